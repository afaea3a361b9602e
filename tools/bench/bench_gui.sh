#!/usr/bin/env bash
# GUI responsiveness (issue #5), with quantscope_gui_bench on the offscreen platform:
#  1. start-up to first plot: process start -> first replot of a visible plot holding data,
#     the bundled default model on the default view (activations), RUNS fresh processes, median;
#  2. control change -> redraw on the 768x3072 Linear (fc2, [out 768, in 3072]) of a
#     random-weight OPT-125m-shaped model: CHANGES moves each of weight bits, the AWQ scale-factor
#     slider and the SmoothQuant alpha slider, median per control and over all.
#
#   tools/bench/bench_gui.sh [BUILD_DIR] [RUNS] [CHANGES]      (Python only to make the random model)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
build="${1:-$root/build}"
runs="${2:-7}"
changes="${3:-15}"
bench="$build/bin/quantscope_gui_bench"
export QT_QPA_PLATFORM=offscreen
# the GUI reads the tokenizer from the model folder: a folder of links to both
gui_model="$root/tools/bench/out/opt125m-random-gui"
mkdir -p "$gui_model"
for f in "$model"/* "$tok"/*; do ln -sf "$f" "$gui_model/"; done
out="$root/tools/bench/out/gui_bench_$(date +%Y%m%d_%H%M%S)"
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $(date -u); QT_QPA_PLATFORM=offscreen" | tee "$out.txt"
for r in $(seq 1 "$runs"); do "$bench" startup 2>/dev/null; done > "$out.startup.jsonl"
"$bench" redraw --model "$gui_model" --layer model.decoder.layers.0.fc2 --changes "$changes" 2>/dev/null > "$out.redraw.json"
python3 - "$out" <<'PY' | tee -a "$out.txt"
import json, statistics, sys
st = [json.loads(l) for l in open(sys.argv[1] + ".startup.jsonl")]
rd = json.load(open(sys.argv[1] + ".redraw.json"))
tot = [s["process_to_first_plot_s"] for s in st]
pre = [s["process_to_main_s"] for s in st]
full = [s["process_to_all_plots_s"] for s in st]
print(f"start-up to first plot ({st[0]['view']} view, bundled model): median {statistics.median(tot):.2f} s over {len(st)} runs "
      f"(min {min(tot):.2f}, max {max(tot):.2f}; of which process start -> main {statistics.median(pre):.2f} s) (target <= 2 s)")
print(f"start-up to all the view's plots (incl. the calibration pass): median {statistics.median(full):.2f} s "
      f"(min {min(full):.2f}, max {max(full):.2f})")
m = rd["median_ms"]
print(f"control change -> redraw on {rd['layer']} {rd['shape']}: median {m['all']:.0f} ms over {3 * rd['changes_per_control']} changes "
      f"(bits {m['bits']:.0f} ms, AWQ factor {m['awq_factor']:.0f} ms, SmoothQuant alpha {m['sq_alpha']:.0f} ms) (target <= 100 ms)")
PY
