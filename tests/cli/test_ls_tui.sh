#!/usr/bin/env bash
# test_ls_tui.sh: black-box test of the interactive `mill ls` browser (BEHAVIOUR.md §1.5). Runs `$MILL ls`
# in a detached tmux session of fixed size on a private tmux socket and drives it with
# send-keys / capture-pane. Needs tmux (scripts/deps.sh installs it): fails, never skips.
# Every step waits for what it expects to appear on the screen (lib.sh's wait_for, bounded by
# TUI_TIMEOUT seconds, which only a hung or starved browser reaches), never for a clock.
set -u

MILL=${MILL:-$(dirname "$0")/../../build/bin/mill}
SRC=${MILL_SOURCE_DIR:-$(dirname "$0")/../..}
TUI_TIMEOUT=${TUI_TIMEOUT:-60}
export LC_ALL=C.UTF-8
. "$SRC/tests/cli/lib.sh"

PASSED=0
SOCK="mill_ls_tui_$$_$RANDOM"
TMPD=""
SESSION=""

tm() { tmux -u -L "$SOCK" -f /dev/null "$@"; }

cleanup() {
    tm kill-server >/dev/null 2>&1
    [ -z "$TMPD" ] || rm -rf "$TMPD"
}
trap cleanup EXIT

die() {
    echo "FAIL: $*" >&2
    if [ -n "$SESSION" ]; then
        echo "---- screen ----" >&2
        tm capture-pane -p -t "$SESSION" >&2 2>/dev/null
        echo "----------------" >&2
    fi
    echo "$PASSED passed, 1 failed" >&2
    exit 1
}

pass() {
    PASSED=$((PASSED + 1))
    echo "ok $PASSED - $1"
}

command -v tmux >/dev/null 2>&1 || die "tmux not found (install it with scripts/deps.sh)"
case $MILL in /*) ;; *) MILL="$PWD/$MILL" ;; esac
[ -x "$MILL" ] || die "mill binary not found at $MILL"
TMPD=$(mktemp -d) || die "mktemp failed"

# The pane runs run.sh: mill ls in the foreground (its pid saved for the signal test), then a
# line telling its exit status and whether the terminal modes came back unchanged.
cat >"$TMPD/run.sh" <<'EOF'
before=$(stty -g)
bash -c 'echo $$ >"$0"; exec env PATH="$1" "$2" ls' "$TMPD/pid" "$MILL_PATH" "$MILL"
rc=$?
after=$(stty -g)
if [ "$before" = "$after" ]; then tty=same; else tty=changed; fi
echo "__MILL_EXIT=$rc tty=$tty"
exec sleep 600
EOF

# A fake clipboard tool recording its arguments and input.
mkdir -p "$TMPD/fakeclip" "$TMPD/empty"
cat >"$TMPD/fakeclip/xclip" <<EOF
#!/bin/sh
echo "\$*" >"$TMPD/clip.args"
/bin/cat >"$TMPD/clip.text"
EOF
chmod +x "$TMPD/fakeclip/xclip"

screen=""
capture() { screen=$(tm capture-pane -p -t "$SESSION" 2>/dev/null); }
has() {
    local s
    for s in "$@"; do grep -qF -- "$s" <<<"$screen" || return 1; done
}
lacks() {
    local s
    for s in "$@"; do ! grep -qF -- "$s" <<<"$screen" || return 1; done
}
# A list row: the name at the start of a screen line (the detail panel is on the right).
row() { grep -qE -- "^ ?$1( |$)" <<<"$screen"; }
line() { sed -n "${1}p" <<<"$screen"; }

# expect DESC CMD...: captures the screen until CMD succeeds on it (up to TUI_TIMEOUT s).
on_screen() { capture && "$@"; }
expect() {
    local desc=$1
    shift
    wait_for "$TUI_TIMEOUT" on_screen "$@" || die "$desc (not on the screen after ${TUI_TIMEOUT} s)"
    pass "$desc"
}

# start PATH_FOR_MILL: a fresh 120x40 session running mill ls.
start() {
    [ -n "$SESSION" ] && tm kill-session -t "$SESSION" >/dev/null 2>&1
    SESSION="ls$RANDOM"
    rm -f "$TMPD/pid" "$TMPD/clip.args" "$TMPD/clip.text"
    local cmd
    cmd=$(printf 'MILL=%q MILL_PATH=%q TMPD=%q TERM=xterm-256color bash %q' \
        "$MILL" "$1" "$TMPD" "$TMPD/run.sh")
    tm new-session -d -s "$SESSION" -x 120 -y 40 "$cmd" || die "cannot start tmux"
}

keys() { tm send-keys -t "$SESSION" "$@"; }
typed() { tm send-keys -t "$SESSION" -l "$1"; }

restored() {
    [ "$(tm display-message -p -t "$SESSION" '#{alternate_on}')" = 0 ] &&
        [ "$(tm display-message -p -t "$SESSION" '#{cursor_flag}')" = 1 ]
}
exited() { has "__MILL_EXIT=$1 tty=same" && lacks "Filter:" && restored; }

# ---- run 1: tabs, list, filter, details, scrolling, resize, Esc ----------------------------
start "$TMPD/empty"
both_tabs() { has "Benchmarks" "Tasks" "Filter: " && row mmlu; }
expect "both tabs shown; Benchmarks lists mmlu" both_tabs
# Rows are sorted by name; how many lie above mmlu (benchmarks) and mmlu_anatomy (tasks) is
# read from `mill ls --json`, so new benchmarks do not move the test.
read -r BENCH_ROW TASK_ROW < <("$MILL" ls --json 2>/dev/null | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
print(sorted(b["name"] for b in d["benchmarks"]).index("mmlu"),
      sorted(t["name"] for t in d["tasks"]).index("mmlu_anatomy"))')
down() { local i; for ((i = 0; i < $1; i++)); do keys Down; done; }
down "$BENCH_ROW"
expect "benchmark details: aggregation and task list" \
    has "unweighted mean" "Tasks (" "mmlu_abstract_algebra"
FOOTER120=$(line 40)

keys S-Down
detail_scrolled() { ! grep -qE '│ mmlu *$' <<<"$(line 4)"; }
expect "Shift+Down scrolls the details" detail_scrolled
keys S-Up
detail_top() { grep -qE '│ mmlu *$' <<<"$(line 4)"; }
expect "Shift+Up scrolls back" detail_top

keys Tab
tasks_tab() { row mmlu_abstract_algebra && row mmlu_anatomy && has "Task type"; }
expect "Tab switches to Tasks (mmlu_abstract_algebra listed)" tasks_tab
keys BTab
bench_tab() { row mmlu && ! row mmlu_anatomy; }
expect "Shift+Tab switches back to Benchmarks" bench_tab
keys Right
expect "Right switches to Tasks" tasks_tab
keys Left
expect "Left switches to Benchmarks" bench_tab
keys Tab

down "$TASK_ROW"
second_selected() { grep -qE 'HF subset +anatomy' <<<"$screen"; }
expect "Down selects the next task" second_selected
keys Up

typed wrld
two_world() {
    has "Filter: wrld" && row mmlu_world_religions && row mmlu_high_school_world_history &&
        ! row mmlu_anatomy
}
expect "fuzzy filter 'wrld' narrows the list" two_world
typed REL
only_religions() {
    grep -qiF "Filter: wrldrel" <<<"$screen" && row mmlu_world_religions &&
        ! row mmlu_high_school_world_history &&
        has "cais/mmlu" "multiple_choice" "https://huggingface.co/datasets/cais/mmlu"
}
expect "case-insensitive filter 'wrldREL' leaves mmlu_world_religions with its details" \
    only_religions
panel() { has "Scoring" "Few-shot split" && lacks "Max new tokens" "Stop sequences"; }
expect "a log-likelihood task's panel: no generation settings (as Python Mill's)" panel
keys BSpace BSpace BSpace
expect "Backspace widens the filter again" two_world

tm resize-window -t "$SESSION" -x 60 -y 15 >/dev/null 2>&1 || die "cannot resize"
FOOTER60=${FOOTER120:0:60}
resized() { has "Filter: wrld" && [ "$(line 15)" = "$FOOTER60" ]; }
expect "SIGWINCH redraws; lines cut to 60 code points" resized

keys Escape
expect "Esc exits 0, prints nothing and restores the terminal" exited 0

# ---- run 2: Enter without a clipboard tool ------------------------------------------------
start "$TMPD/empty"
expect "second run starts" has "Filter: "
keys Tab
expect "second run on Tasks" tasks_tab
typed wrldrel
expect "second run filtered" only_religions
keys Enter
selected() { has "Selected: mmlu_world_religions" && exited 0; }
expect "Enter without clipboard tool prints 'Selected: <name>'" selected

# ---- run 2b: matches ranked as Python Mill ranks them --------------------------------------
start "$TMPD/empty"
expect "run 2b starts" has "Filter: "
keys Tab
expect "run 2b on Tasks" tasks_tab
typed pro
keys Enter
ranked() { has "Selected: mmlu_pro" && exited 0; }
expect "filter 'pro': the tightest match first (mmlu_pro, not mmlu_prehistory)" ranked

# ---- run 3: Enter with a clipboard tool (a fake xclip) ------------------------------------
start "$TMPD/fakeclip"
expect "third run starts" both_tabs
typed mmlu_pro
keys BSpace BSpace BSpace BSpace   # filter "mmlu": mmlu first
keys Enter
copied() { has "Copied: mmlu" && exited 0; }
expect "Enter with xclip prints 'Copied: <name>'" copied
[ "$(cat "$TMPD/clip.args" 2>/dev/null)" = "-selection clipboard" ] ||
    die "xclip called with '$(cat "$TMPD/clip.args" 2>/dev/null)'"
[ "$(cat "$TMPD/clip.text" 2>/dev/null)" = "mmlu" ] || die "xclip got the wrong text"
pass "xclip got -selection clipboard and the name"

# ---- run 4: Ctrl+C ------------------------------------------------------------------------
start "$TMPD/fakeclip"
expect "fourth run starts" both_tabs
keys C-c
quiet_exit() { exited 0 && lacks "Copied" "Selected"; }
expect "Ctrl+C exits 0 and prints nothing" quiet_exit
[ -e "$TMPD/clip.text" ] && die "Ctrl+C touched the clipboard"

# ---- run 5: SIGTERM -----------------------------------------------------------------------
start "$TMPD/empty"
expect "fifth run starts" both_tabs
kill -TERM "$(cat "$TMPD/pid")" 2>/dev/null || die "cannot signal mill"
expect "SIGTERM restores the terminal (exit 143)" exited 143

echo "$PASSED passed, 0 failed"
exit 0
