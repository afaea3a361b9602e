# Sourced by the CLI test scripts after they set CLI: a scratch folder $tmp (removed on exit), the
# counters and reporters ok NAME / fail NAME (fail shows the last run's stdout and stderr), and
# run ARGS... (quantscope-cli ARGS > $tmp/out 2> $tmp/err; its exit status in $rc).
[ -x "$CLI" ] || { echo "FAIL: $CLI is not executable"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0 passes=0
ok() { passes=$((passes + 1)); echo "ok   $1"; }
fail() {
    fails=$((fails + 1))
    echo "FAIL $1"
    echo "  stdout: $(head -c 800 "$tmp/out")"
    echo "  stderr: $(tail -c 800 "$tmp/err")"
}
run() { "$CLI" "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?; }
