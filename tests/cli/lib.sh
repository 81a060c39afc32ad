# lib.sh: what the black-box CLI tests share. Source it after setting `tmp`:
#   . "$SRC/tests/cli/lib.sh"
# ok/bad/check count results ("ok - ..." / "FAIL - ..." lines); finish prints the tally and
# returns non-zero on any failure; compare checks two runs' per-sample outputs
# (compare_samples.py); expect_exit runs mill and checks its exit code and a stderr pattern;
# wait_for waits for an event (a line in a file, a port listening) with a bound; fake_hub starts
# tests/reference/fake_hub.py and nreq counts the requests it logged.
PY=${PY:-/usr/bin/python3}
pass=0; fail=0
ok() { echo "ok - $1"; pass=$((pass + 1)); }
bad() { echo "FAIL - $1"; fail=$((fail + 1)); }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }
compare() { "$PY" "$SRC/tests/cli/compare_samples.py" "$@"; } # out_a out_b task tol
# expect_exit DESC RC PATTERN MILL_ARGS...: mill exits RC and its stderr matches PATTERN (grep -E).
expect_exit() {
    local desc=$1 want=$2 pattern=$3 rc
    shift 3
    "$MILL" "$@" >/dev/null 2>"$tmp/expect.err"; rc=$?
    if [ "$rc" -eq "$want" ] && grep -Eq -- "$pattern" "$tmp/expect.err"; then
        ok "$desc"
    else
        bad "$desc (exit $rc, want $want; stderr: $(tail -1 "$tmp/expect.err"))"
    fi
}
finish() { echo "$pass passed, $fail failed"; [ "$fail" -eq 0 ]; }
# wait_for [--pid PID] TIMEOUT_S CMD...: waits for an event, never for a bare clock: runs CMD
# every 50 ms until it succeeds (0). 1: TIMEOUT_S seconds went by first (a bound for a hung or
# starved process, never reached by a healthy run); 2: PID, the process that was to cause the
# event, exited first.
wait_for() {
    local pid= deadline
    if [ "$1" = --pid ]; then pid=$2; shift 2; fi
    deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then "$@" && return 0; return 2; fi
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.05
    done
}
# listening PID PORT: process PID holds a TCP socket listening on PORT (from /proc, without
# connecting to it: a probe connection would count as a client).
listening() {
    "$PY" - "$1" "$2" <<'PY'
import os, sys
pid, port = sys.argv[1], int(sys.argv[2])
inodes = set()
for table in ("/proc/net/tcp", "/proc/net/tcp6"):
    try:
        rows = open(table).read().splitlines()[1:]
    except OSError:
        continue
    for r in rows:
        f = r.split()
        if int(f[1].rsplit(":", 1)[1], 16) == port and f[3] == "0A":  # 0A: LISTEN
            inodes.add(f[9])
try:
    fds = os.listdir(f"/proc/{pid}/fd")
except OSError:
    sys.exit(1)
for fd in fds:
    try:
        link = os.readlink(f"/proc/{pid}/fd/{fd}")
    except OSError:
        continue
    if link.startswith("socket:[") and link[8:-1] in inodes:
        sys.exit(0)
sys.exit(1)
PY
}
# fake_hub ROOT: starts the fake Hub (tests/reference/fake_hub.py) on the repos under ROOT,
# its pid in hub_pid (the test's cleanup kills it), and waits until it has bound its port and
# printed it (one whole line): HUB_URL is then its address. Else 1, after a FAIL line.
fake_hub() {
    : >"$tmp/port"
    "$PY" "$SRC/tests/reference/fake_hub.py" "$1" >"$tmp/port" 2>"$tmp/hub.log" &
    hub_pid=$!
    wait_for --pid "$hub_pid" 60 hub_port_line || {
        bad "the fake hub prints its port (exit $?: 1 timed out, 2 it died): $(tail -3 "$tmp/hub.log")"
        return 1
    }
    HUB_URL="http://127.0.0.1:$(head -1 "$tmp/port")"
}
hub_port_line() { [ "$(wc -l <"$tmp/port")" -ge 1 ]; }
# nreq: how many requests the fake Hub at $HF_ENDPOINT has logged (its /_stats).
nreq() { curl -s "$HF_ENDPOINT/_stats" | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)["log"]))'; }
