# lib.sh: what the black-box CLI tests share. Source it after setting `tmp`:
#   . "$SRC/tests/cli/lib.sh"
# ok/bad/check count results ("ok - ..." / "FAIL - ..." lines); finish prints the tally and
# returns non-zero on any failure; compare checks two runs' per-sample outputs
# (compare_samples.py); expect_exit runs mill and checks its exit code and a stderr pattern.
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
