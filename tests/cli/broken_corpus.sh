#!/usr/bin/env bash
# `quantscope-cli check --model CASE` on every case of tests/data/broken (made by
# tools/make_broken_corpus.py): a broken case must exit 2 (a reported error; not 3 = internal
# error, not >= 128 = killed by a signal), print nothing on stdout and print its expected
# error on stderr; the valid case must exit 0 and print its expected warning. Every run has an
# address-space limit (ulimit -v, tests/cli/lib/vmem_limit.sh: the CLI's libraries + 2.5 GB): a
# case that allocates without bound fails with bad_alloc (exit 3) here instead of exhausting
# the machine.
# Usage: broken_corpus.sh <quantscope-cli> <tests/data dir> <repo root>
set -u
CLI=$1
DATA=$2
corpus="$DATA/broken"
[ -x "$CLI" ] || { echo "FAIL: $CLI is not executable"; exit 1; }
[ -d "$corpus" ] || { echo "FAIL: $corpus does not exist"; exit 1; }
. "$(dirname "${BASH_SOURCE[0]}")/lib/vmem_limit.sh"
VMEM=$(vmem_limit "$CLI")
echo "address-space limit: $VMEM KiB"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0 n_err=0 n_ok=0
fail() {
    echo "FAIL [$1]: $2"
    echo "  stdout: $(head -c 2000 "$tmp/out")"
    echo "  stderr: $(head -c 2000 "$tmp/err")"
    fails=$((fails + 1))
}

for case_dir in "$corpus"/*/; do
    case_dir=${case_dir%/}
    name=$(basename "$case_dir")
    model="$case_dir"
    if [ -e "$case_dir/use_empty_temp_dir" ]; then  # git cannot store an empty folder
        model="$tmp/$name"
        mkdir -p "$model"
    fi
    (ulimit -v "$VMEM" && exec "$CLI" check --model "$model") >"$tmp/out" 2>"$tmp/err"
    rc=$?
    if [ -f "$case_dir/expected_error.txt" ]; then
        n_err=$((n_err + 1))
        raw=$(head -n 1 "$case_dir/expected_error.txt")
        expected=${raw//\{dir\}/"$model"}
        if [ "$rc" -ge 128 ]; then
            fail "$name" "crashed (exit $rc, signal $((rc - 128)))"
        elif [ "$rc" -eq 3 ]; then
            fail "$name" "internal error (exit 3) instead of a reported error"
        elif [ "$rc" -ne 2 ]; then
            fail "$name" "exit $rc, expected 2"
        elif [ -s "$tmp/out" ]; then
            fail "$name" "stdout is not empty"
        elif ! grep -q "^quantscope-cli check: error: " "$tmp/err"; then
            fail "$name" "stderr lacks 'quantscope-cli check: error: '"
        elif ! grep -qF -- "$expected" "$tmp/err"; then
            fail "$name" "stderr lacks the expected error: $expected"
        else
            echo "ok   $name"
        fi
    elif [ -f "$case_dir/expected_warning.txt" ]; then
        n_ok=$((n_ok + 1))
        raw=$(head -n 1 "$case_dir/expected_warning.txt")
        expected="warning: ${raw//\{dir\}/"$model"}"
        if [ "$rc" -ne 0 ]; then
            fail "$name" "exit $rc, expected 0 (a valid model)"
        elif ! grep -qF -- "$expected" "$tmp/err"; then
            fail "$name" "stderr lacks the expected warning: $expected"
        elif ! grep -q ": ok, " "$tmp/out"; then
            fail "$name" "stdout lacks ': ok, '"
        else
            echo "ok   $name (valid, warned)"
        fi
    fi
done

if [ "$n_err" -lt 15 ] || [ "$n_ok" -lt 1 ]; then
    echo "FAIL: corpus too small ($n_err broken cases, $n_ok valid)"
    fails=$((fails + 1))
fi
echo "$n_err broken cases, $n_ok valid, $fails failure(s)"
[ "$fails" -eq 0 ]
