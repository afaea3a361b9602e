#!/usr/bin/env bash
# GPU check (issue #13) of the pip-variant (libtorch 2.x) build, on one device:
#   1. the transformers goldens on the device in fp32, bf16 and fp16: logits of the six model
#      fixtures and the 10-window wikitext-2 perplexity of three (tests/engine/test_device_goldens.cpp,
#      which states and justifies the tolerances: fp32 logits 1e-4 absolute and ppl 1e-3 relative as
#      on the CPU; bf16/fp16 relative to the unit roundoff u of the dtype);
#   2. one `quantscope-cli ppl --method awq` (auto-scale) run on the device: its perplexity against
#      the Python reference's (tests/data/goldens/quant_reference.json, 1e-4 relative) and its time;
#   3. the GUI benchmark (tools/bench/gui): start-up to first plot on the bundled model (3 runs)
#      and control change -> redraw (the random OPT-125m-shaped model when python3 can make it,
#      else the tiny OPT test model), with the model on the device;
#   4. AWQ auto-scale (+ auto-clip, duo scaling) on the device against the Python reference
#      (QuantReference.AwqAutoScaleAndClip: scales, loss curves, chosen ratios, perplexity).
# It prints one summary table and writes it, with every log, into the output folder.
#
#   tools/gpu_check.sh [--device cuda|cpu] [--build DIR | --bundle FILE] [--out DIR]
#                      [--bench-model auto|small] [--budget SECONDS] [--quick]
#
#   --device D        cuda (default) or cpu (CTest runs it so on every build: it must pass there too)
#   --build DIR       binaries of a build folder (default: <repo>/build-pip, else <repo>/build)
#   --bundle FILE     a bundle from tools/device/make_bundle.sh, unpacked into /tmp; libtorch is taken
#                     from $QS_TORCH_LIB, else from the torch package of $QS_PYTHON (LD_LIBRARY_PATH)
#   --out DIR         logs and summary.txt (default: $OUT when set, else a new /tmp folder)
#   --bench-model M   auto (default): the redraw benchmark on a random OPT-125m-shaped model made
#                     with $QS_PYTHON (numpy or torch) when possible; small: the tiny test model
#   --budget S        wall-clock budget for all checks (default 330 s); each step's timeout is cut
#                     to what is left, so the whole run ends in time even when a step hangs
#   --quick           for CTest on 2 cores: no AWQ reference test (the engine suite runs it on the
#                     CPU; the CLI AWQ run is still compared with its numbers), one start-up run,
#                     3 redraws per control
# Environment: QS_PYTHON (default python3), QS_TORCH_LIB (a torch/lib folder, bundle mode).
# Exit status: 0 when every check passed, 1 otherwise (the table says which).
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
device=cuda build="" bundle="" out="${OUT:-}" bench_model=auto budget=330 quick=0
py="${QS_PYTHON:-python3}"
while [ $# -gt 0 ]; do
  case "$1" in
    --device) device="$2"; shift ;;
    --build) build="$2"; shift ;;
    --bundle) bundle="$2"; shift ;;
    --out) out="$2"; shift ;;
    --bench-model) bench_model="$2"; shift ;;
    --budget) budget="$2"; shift ;;
    --quick) quick=1 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "gpu_check.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
case "$device" in cuda|cpu|mps) ;; *) echo "gpu_check.sh: --device takes cuda, cpu or mps" >&2; exit 2 ;; esac
start_s=$SECONDS
[ -n "$out" ] || out="$(mktemp -d /tmp/qs_gpu_check_XXXXXX)"
mkdir -p "$out"
summary="$out/summary.txt"
rows="$out/rows.tsv"
: > "$rows"
failures=0
tmp="$(mktemp -d /tmp/qs_gpu_check_work_XXXXXX)"
trap 'rm -rf "$tmp"' EXIT

# row CHECK RESULT TOLERANCE STATUS
row() {
  printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >> "$rows"
  [ "$4" = ok ] || [ "$4" = info ] || failures=$((failures + 1))
}
# left: seconds of the budget left; step_timeout WANT: min(WANT, left - 5), at least 5
left() { echo $((budget - (SECONDS - start_s))); }
step_timeout() { local l; l=$(( $(left) - 5 )); [ "$l" -lt "$1" ] && echo $(( l > 5 ? l : 5 )) || echo "$1"; }
# run_step NAME TIMEOUT CMD...: runs with a timeout, output to $out/NAME.log; returns the status
run_step() {
  local name="$1" t; t=$(step_timeout "$2"); shift 2
  echo "== $name (timeout ${t}s, $(left)s of the budget left)"
  local t0=$SECONDS
  timeout --kill-after=10 "$t" "$@" > "$out/$name.log" 2>&1
  local rc=$?
  echo "   exit $rc after $((SECONDS - t0)) s; log: $out/$name.log"
  [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ] && echo "   TIMED OUT"
  return "$rc"
}

# ---- binaries ---------------------------------------------------------------------------------
if [ -n "$bundle" ]; then
  [ -f "$bundle" ] || { echo "gpu_check.sh: no bundle at $bundle" >&2; exit 2; }
  echo "== unpacking $bundle ($(stat -c %s "$bundle") bytes) into $tmp"
  if command -v xz > /dev/null; then
    tar -xJf "$bundle" -C "$tmp" || { echo "gpu_check.sh: cannot unpack $bundle" >&2; exit 2; }
  else  # no xz binary (a minimal image): Python's tarfile reads .tar.xz too
    "$py" -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$bundle" "$tmp" \
      || { echo "gpu_check.sh: cannot unpack $bundle (no xz, and $py failed)" >&2; exit 2; }
  fi
  home="$tmp/quantscope-bundle"
  torch_lib="${QS_TORCH_LIB:-}"
  if [ -z "$torch_lib" ]; then
    torch_dir=$("$py" -c 'import importlib.util as u; print(u.find_spec("torch").submodule_search_locations[0])' 2>/dev/null) \
      || torch_dir=$("$py" -c 'import torch, os; print(os.path.dirname(torch.__file__))')
    torch_lib="$torch_dir/lib"
  fi
  [ -f "$torch_lib/libtorch.so" ] || { echo "gpu_check.sh: no libtorch.so in $torch_lib (set QS_TORCH_LIB)" >&2; exit 2; }
  export LD_LIBRARY_PATH="$home/lib:$torch_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export QT_PLUGIN_PATH="$home/plugins"
  [ -f "$home/fonts/fonts.conf" ] && export FONTCONFIG_FILE="$home/fonts/fonts.conf"
  sed -n '1,9p' "$home/MANIFEST" 2>/dev/null
else
  [ -n "$build" ] || { build="$root/build-pip"; [ -x "$build/bin/quantscope-cli" ] || build="$root/build"; }
  home="$build"
fi
bin="$home/bin"
cli="$bin/quantscope-cli" tests="$bin/quantscope_engine_tests" gui_bench="$bin/quantscope_gui_bench"
for f in "$cli" "$tests"; do [ -x "$f" ] || { echo "gpu_check.sh: $f is missing (build it first)" >&2; exit 2; }; done
export QS_TEST_DATA_DIR="$root/tests/data" QS_SOURCE_DIR="$root" QT_QPA_PLATFORM=offscreen
echo "== device $device; binaries: $bin; libtorch: ${torch_lib:-(build RUNPATH)}; output: $out"

# ---- what the binaries load, the GPU, and what the CLI says about it --------------------------
{
  for f in "$bin"/* "$home"/lib/*.so* "$home"/plugins/platforms/*.so; do
    [ -f "$f" ] || continue
    echo "### $f"
    ldd "$f" 2>&1
  done
} > "$out/ldd.txt"
missing=$(grep -E "^###|not found" "$out/ldd.txt" | grep -B1 "not found" | grep -v "^--")
if [ -n "$missing" ]; then
  echo "ldd: libraries NOT FOUND:"; echo "$missing"
  row "ldd: every library resolves" "$(grep -c 'not found' "$out/ldd.txt") not found" "0" FAIL
else
  echo "ldd: every library of $(grep -c '^###' "$out/ldd.txt") files resolves"
  row "ldd: every library of the $(grep -c '^###' "$out/ldd.txt") binaries/libraries resolves" "all found" "0 not found" ok
fi
if [ -n "$bundle" ]; then
  # each bundled library must resolve to the bundle's copy (never the build tree or /usr/lib)
  bad=$(awk -v lib="$home/lib" '
    /^###/ { file = $2; next }
    $2 == "=>" { name = $1; path = $3; if (system("test -e \"" lib "/" name "\"") == 0 && index(path, lib "/") != 1)
                   print file ": " name " => " path }' "$out/ldd.txt")
  if [ -n "$bad" ]; then echo "bundled libraries resolved elsewhere:"; echo "$bad"; row "bundle: libraries from the bundle" "$(echo "$bad" | wc -l) elsewhere" "0" FAIL
  else row "bundle: every bundled library loads from the bundle" "all $(ls "$home/lib" | wc -l)" "-" ok; fi
  # and libtorch (with its libgomp) from the target's torch/lib
  bad=$(grep -E "^\s(libtorch[a-z_]*|libc10[a-z_]*|libgomp)\.so[.0-9]* =>" "$out/ldd.txt" | grep -v "=> $torch_lib/" | sort -u)
  if [ -n "$bad" ]; then echo "libtorch resolved elsewhere:"; echo "$bad"; row "bundle: libtorch from $torch_lib" "$(echo "$bad" | wc -l) elsewhere" "0" FAIL
  else row "bundle: libtorch + libgomp load from the target's torch/lib" "yes" "-" ok; fi
fi
if command -v nvidia-smi > /dev/null; then
  nvidia-smi 2>&1 | tee "$out/nvidia-smi.txt"
else
  echo "nvidia-smi: not on PATH" | tee "$out/nvidia-smi.txt"
fi
"$cli" --version 2>&1 | tee "$out/version.txt"
if [ "$device" != cpu ] && ! grep -q "^$device: .*, usable" "$out/version.txt"; then
  row "quantscope-cli --version: $device usable" "$(grep "^$device:" "$out/version.txt")" "usable" FAIL
else
  row "quantscope-cli --version" "$(sed -n 2p "$out/version.txt")" "-" info
fi

# step timeouts: generous on the CPU (2 busy cores), tight on a GPU so one hung step cannot eat
# the budget of the others
t_golden=240 t_cli=120 t_redraw=180
[ "$device" = cpu ] || { t_golden=90 t_cli=60 t_redraw=120; }

# ---- 1. goldens on the device -----------------------------------------------------------------
for dt in fp32 bf16 fp16; do
  QS_TEST_DEVICE=$device run_step "goldens_$dt" "$t_golden" "$tests" --gtest_filter="Fixtures/DeviceLogits.*/*_$dt:Fixtures/DevicePpl.*/*_$dt$([ "$dt" = fp32 ] && echo :DeviceQuant.*)"
  rc=$?
  # "[ device   ] WHAT DEVICE DTYPE MODEL... VALUE tol TOL ok|FAIL"
  sed -n 's/^\[ device   \] //p' "$out/goldens_$dt.log" | while read -r what dev dtype rest; do
    status=${rest##* }; rest=${rest% *}; tol=${rest##* }; rest=${rest% tol *}; value=${rest##* }; model=${rest% *}
    printf '%s\t%s\t%s\t%s\n' "$what $model ($dev $dtype)" "$value" "$tol" "$status"
  done >> "$rows"
  grep -q "is not offered" "$out/goldens_$dt.log" && row "goldens $dt: skipped" "$(grep -m1 'is not offered' "$out/goldens_$dt.log")" "-" info
  if [ "$rc" -eq 0 ]; then row "goldens $dt (gtest)" "$(sed -n 's/^\[==========\] \([0-9]*\) tests\? from .* ran.*/\1 tests ran/p' "$out/goldens_$dt.log")" "all pass" ok
  else row "goldens $dt (gtest)" "exit $rc: $(grep -c '^\[  FAILED  \]' "$out/goldens_$dt.log") failed lines" "all pass" FAIL; fi
done

# ---- 2. AWQ through the CLI on the bundled model, as a user runs it ---------------------------
want=$(awk '/^ "TinyStories-656K": \{/ { m = 1 } m && /"awq_auto_w3_g32":/ { gsub(/[^0-9.e+-]/, "", $2); print $2; exit }' \
  "$root/tests/data/goldens/quant_reference.json")
run_step awq_cli "$t_cli" "$cli" ppl --method awq --w-bits 3 --group-size 32 --calib-samples 32 --calib-seqlen 256 \
  --seqlen 512 --nsamples 10 --device "$device" --dtype fp32 --json
rc=$?
got=$(grep -o '"ppl": *[0-9.e+-]*' "$out/awq_cli.log" | sed -n '1s/.*: *//p')  # sed reads everything: no SIGPIPE under pipefail
secs=$(grep -o '"seconds": *[0-9.e+-]*' "$out/awq_cli.log" | sed -n '1s/.*: *//p')
if [ "$rc" -eq 0 ] && [ -n "$got" ] && [ -n "$want" ]; then
  rel=$(awk -v g="$got" -v w="$want" 'BEGIN { d = (g - w) / w; if (d < 0) d = -d; printf "%.2e", d }')
  st=$(awk -v r="$rel" 'BEGIN { print (r + 0 <= 1e-4) ? "ok" : "FAIL" }')
  row "CLI ppl --method awq w3 g32 TinyStories-656K ($device fp32): ppl $(printf %.4f "$got") vs python $(printf %.4f "$want") (${secs%.*} s), relative" "$rel" "1.00e-04" "$st"
else
  row "CLI ppl --method awq ($device fp32)" "exit $rc: $(tail -1 "$out/awq_cli.log")" "runs" FAIL
fi

# ---- 3. GUI benchmark ---------------------------------------------------------------------------
if [ ! -x "$gui_bench" ]; then
  row "GUI benchmark" "skipped: no quantscope_gui_bench (GUI not built)" "-" info
else
  runs=3 changes=9
  [ "$quick" -eq 1 ] && runs=1 changes=3
  for i in $(seq "$runs"); do
    run_step "gui_startup_$i" 60 "$gui_bench" startup --device "$device" --dtype fp32
    rc=$?
    t=$(grep -o '"process_to_first_plot_s": *[0-9.]*' "$out/gui_startup_$i.log" | sed 's/.*: *//')
    all=$(grep -o '"process_to_all_plots_s": *[0-9.]*' "$out/gui_startup_$i.log" | sed 's/.*: *//')
    if [ "$rc" -eq 0 ] && [ -n "$t" ]; then row "GUI start-up to first plot, run $i ($device; all plots ${all} s)" "${t} s" "<= 2 s (target)" info
    else row "GUI start-up run $i ($device)" "exit $rc: $(tail -1 "$out/gui_startup_$i.log")" "runs" FAIL; fi
  done
  model="$root/tests/data/models/opt-ppl-random" layer="model.decoder.layers.0.fc2"
  if [ "$bench_model" = auto ] && [ "$(left)" -gt 150 ]; then
    big="$tmp/opt125m-random"
    if timeout 90 "$py" "$root/tools/bench/make_random_opt125m.py" "$big" > "$out/make_random_opt125m.log" 2>&1; then
      cp "$root/tests/data/tokenizers/opt-bpe/"* "$big/" 2>/dev/null
      model="$big"
    else
      echo "   (no random OPT-125m-shaped model: $(tail -1 "$out/make_random_opt125m.log"); the tiny test model instead)"
    fi
  fi
  run_step gui_redraw "$t_redraw" "$gui_bench" redraw --model "$model" --layer "$layer" --changes "$changes" --device "$device" --dtype fp32
  rc=$?
  med=$(grep -o '"all": *[0-9.]*' "$out/gui_redraw.log" | sed 's/.*: *//')
  shape=$(grep -o '"shape": *\[[0-9, ]*\]' "$out/gui_redraw.log" | sed 's/.*: *//')
  if [ "$rc" -eq 0 ] && [ -n "$med" ]; then
    row "GUI control change -> redraw, $(basename "$model") $layer $shape ($device), median of $((3 * changes))" "${med} ms" "<= 100 ms (target)" info
  else row "GUI redraw ($device)" "exit $rc: $(tail -1 "$out/gui_redraw.log")" "runs" FAIL; fi
fi

# ---- 4. AWQ against the Python reference (last: the longest step gets what is left of the budget)
if [ "$quick" -eq 1 ]; then
  row "AWQ reference (gtest)" "skipped (--quick)" "-" info
else
  QS_TEST_DEVICE=$device run_step awq_reference 600 "$tests" --gtest_filter="RealModels/QuantReference.AwqAutoScaleAndClip/*"
  rc=$?
  # "[ qref     ] MODEL KEY python PPL C++ PPL rel R (tol T)"
  grep -E '^\[ qref     \] [^ ]+ +[^ ]+ +python +[0-9.]+ +C\+\+ +[0-9.]+ +rel ' "$out/awq_reference.log" | sed 's/^\[ qref     \] //' |
    while read -r model key _ py _ cpp _ rel _ tol; do
      tol=${tol%)}
      st=$(awk -v r="$rel" -v t="$tol" 'BEGIN { print (r + 0 <= t + 0) ? "ok" : "FAIL" }')
      printf '%s\t%s\t%s\t%s\n' "AWQ $key $model ($device fp32): ppl $cpp vs python $py, relative" "$rel" "$tol" "$st"
    done >> "$rows"
  ties=$(grep -c "near-tie (runner-up" "$out/awq_reference.log")
  [ "$ties" -gt 0 ] && row "AWQ near-ties (curve compared instead of the ratio)" "$ties" "-" info
  if [ "$rc" -eq 0 ]; then row "AWQ reference (gtest: scales, losses, ratios, clip)" "pass" "all pass" ok
  else row "AWQ reference (gtest: scales, losses, ratios, clip)" "exit $rc" "all pass" FAIL; fi
fi

# ---- summary ------------------------------------------------------------------------------------
failures=$(awk -F'\t' '$4 != "ok" && $4 != "info"' "$rows" | wc -l)
{
  echo "QuantScope GPU check, device $device, $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -n), $((SECONDS - start_s)) s"
  echo "binaries: $bin"
  sed -n '2,4p' "$out/version.txt"
  echo
  awk -F'\t' '{ w = length($1); if (w > m) m = w } END { }
              { a[NR] = $0 } END { if (m > 110) m = 110;
                printf "%-" m "s  %-22s  %-18s  %s\n", "check", "result", "tolerance", "status";
                for (i = 1; i <= NR; i++) { split(a[i], f, "\t"); printf "%-" m "s  %-22s  %-18s  %s\n", f[1], f[2], f[3], f[4] } }' "$rows"
  echo
  if [ "$failures" -eq 0 ]; then echo "RESULT: all checks passed"; else echo "RESULT: $failures check(s) FAILED"; fi
} > "$summary"
echo
cat "$summary"
[ "$failures" -eq 0 ]
