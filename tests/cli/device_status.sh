#!/usr/bin/env bash
# --version and --device (issue #13): the version text names the libtorch version and, for cuda
# and mps, whether the backend is compiled in and usable here and why not; asking for a device
# that is not usable fails with exit code 2 and the same reason; fp16 on the CPU runs with
# libtorch 2.x and is refused (exit 2, with the reason) with 1.x.
# Usage: device_status.sh <quantscope-cli> <tests/data dir> <repo root>
set -u
CLI=$1
[ -x "$CLI" ] || { echo "FAIL: $CLI is not executable"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0 passes=0
ok() { passes=$((passes + 1)); echo "ok: $1"; }
fail() { fails=$((fails + 1)); echo "FAIL: $1"; }

v=$("$CLI" --version) || fail "--version exits non-zero"
echo "$v"
torch=$(echo "$v" | sed -n 's/^libtorch \([0-9][0-9.]*\) (devices: .*; [0-9]* CPU threads)$/\1/p')
[ -n "$torch" ] && ok "--version names libtorch $torch" || fail "--version has no 'libtorch X.Y.Z (devices: ...)' line"
# OpenMP wait policy: none is set by QuantScope (one OpenMP pool: OpenBLAS's OpenMP build with Debian's
# libtorch, MKL/oneDNN on libgomp with the wheel's); a policy the user sets is kept.
w=$(env -u OMP_WAIT_POLICY OMP_NUM_THREADS=2 "$CLI" --version | sed -n 's/^OpenMP wait policy: //p')
want="libgomp default (spin, then sleep)"
[ "$w" = "$want" ] && ok "OpenMP wait policy with libtorch $torch: $w" || fail "OpenMP wait policy with libtorch $torch is '$w', expected '$want'"
# Debian's libtorch links libblas.so.3: --version names it, and warns unless it is OpenBLAS's OpenMP build.
case "$torch" in
  1.*)
    blas=$(echo "$v" | sed -n 's/^BLAS: //p')
    [ -n "$blas" ] && ok "--version names the BLAS: $blas" || fail "--version has no 'BLAS: ...' line with Debian's libtorch"
    case "$blas" in
      *openblas-openmp*) echo "$v" | grep -q "^warning:" && fail "a BLAS warning with the OpenMP OpenBLAS" || ok "no BLAS warning with the OpenMP OpenBLAS" ;;
      *) echo "$v" | grep -q "^warning: .*libopenblas0-openmp" && ok "a warning names libopenblas0-openmp for $blas" || fail "no warning for $blas" ;;
    esac
    pt=/usr/lib/x86_64-linux-gnu/openblas-pthread
    if [ -f "$pt/libblas.so.3" ]; then
      LD_LIBRARY_PATH=$pt "$CLI" --version | grep -q "^warning: OpenBLAS's pthread build" \
        && ok "the pthread OpenBLAS is warned about" || fail "no warning with the pthread OpenBLAS"
    fi ;;
esac
w=$(OMP_WAIT_POLICY=ACTIVE OMP_NUM_THREADS=2 "$CLI" --version | sed -n 's/^OpenMP wait policy: //p')
[ "$w" = "ACTIVE" ] && ok "a user's OMP_WAIT_POLICY is kept" || fail "OMP_WAIT_POLICY=ACTIVE shows as '$w'"
for dev in cuda mps; do
  line=$(echo "$v" | grep "^$dev: ")
  case "$line" in
    "$dev: not compiled in ("*")" | "$dev: compiled in"*", usable"* | "$dev: compiled in"*", not usable here: "*) ok "$dev status: $line" ;;
    *) fail "no well-formed '$dev: ...' line in --version" ;;
  esac
  if echo "$line" | grep -q ", usable"; then
    "$CLI" ppl --nsamples 1 --seqlen 128 --device "$dev" --json > "$tmp/out" 2> "$tmp/err" \
      && grep -q "\"device\": *\"$dev" "$tmp/out" && ok "ppl --device $dev runs" || fail "ppl --device $dev: $(cat "$tmp/err")"
  else
    "$CLI" ppl --nsamples 1 --seqlen 128 --device "$dev" > "$tmp/out" 2> "$tmp/err"
    rc=$?
    [ "$rc" -eq 2 ] && ok "ppl --device $dev exits 2" || fail "ppl --device $dev exits $rc (expected 2)"
    grep -qF -- "$line" "$tmp/err" && ok "--device $dev error gives the reason" \
      || fail "--device $dev error lacks '$line': $(cat "$tmp/err")"
  fi
done
# a CUDA build on a machine without the NVIDIA driver says so
if echo "$v" | grep -q "^cuda: compiled in" && ! ldconfig -p 2>/dev/null | grep -q "libcuda.so.1 "; then
  echo "$v" | grep -q "^cuda: compiled in (CUDA [0-9.]*), not usable here: no NVIDIA driver (libcuda.so.1 cannot be loaded" \
    && ok "no driver here: --version says 'no NVIDIA driver'" || fail "no driver here, but --version says: $(echo "$v" | grep '^cuda:')"
fi

"$CLI" ppl --nsamples 1 --seqlen 128 --dtype fp16 --json > "$tmp/out" 2> "$tmp/err"
rc=$?
case "$torch" in
  1.*) [ "$rc" -eq 2 ] && grep -q "fp16 is not supported on the CPU" "$tmp/err" && ok "fp16 on the CPU refused with libtorch $torch" \
         || fail "fp16 on the CPU with libtorch $torch: exit $rc, $(cat "$tmp/err")" ;;
  *) [ "$rc" -eq 0 ] && grep -q '"dtype": *"fp16"' "$tmp/out" && ok "fp16 on the CPU runs with libtorch $torch" \
       || fail "fp16 on the CPU with libtorch $torch: exit $rc, $(cat "$tmp/err")" ;;
esac
echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
