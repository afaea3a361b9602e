#!/usr/bin/env bash
# AWQ auto-scale + auto-clip wall time: QuantScope vs llm-awq's algorithm in PyTorch eager
# (tools/bench/bench_awq_pytorch.py), same machine, one run each, one after the other, on a
# random-weight OPT-125m-shaped model (generated locally, not committed), w4 g128 asymmetric,
# calibration 128 blocks x 512 tokens of the bundled tinyshakespeare. Both use every core.
# Times cover the search itself (embedding, per-block capture, scale search, folding, clip);
# model loading and tokenization are excluded on both sides. Also checks that both chose the
# same ratio for every group.
#
#   tools/bench/bench_awq.sh [BUILD_DIR] [SAMPLES]       (Python: /work/pyenv/venv or $PYTHON)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
build="${1:-$root/build}"
samples="${2:-128}"
cli="$build/bin/quantscope-cli"
stamp=$(date +%Y%m%d_%H%M%S)
out="$root/tools/bench/out/awq_bench_$stamp"
machine_line "$cli" | tee "$out.txt"
"$cli" quantize --model "$model" --tokenizer "$tok" --method awq --awq-clip --w-bits 4 --group-size 128 \
  --calib-samples "$samples" --calib-seqlen 512 --json > "$out.quantscope.json" 2>/dev/null
(cd "$root" && "$py" tools/bench/bench_awq_pytorch.py --model "$model" --tokenizer "$tok" --samples "$samples" \
  --seqlen 512 --w-bits 4 --group-size 128 --clip --threads "$(nproc)") > "$out.pytorch.json"
"$py" - "$out" <<'PY' | tee -a "$out.txt"
import json, sys
q = json.load(open(sys.argv[1] + ".quantscope.json"))
p = json.load(open(sys.argv[1] + ".pytorch.json"))
ours = [round(g["best_ratio"] * 20) for g in q["awq"]["groups"]]
same = sum(a == b for a, b in zip(ours, p["chosen_ratio_index"]))
gram = sum(g.get("loss_from") == "gram" for g in q["awq"]["groups"])
print(f"calibration: {p['samples']} x {p['seqlen']} tokens; {len(ours)} groups ({gram} Linear-only groups by X^T X); "
      f"{q['awq']['clipped_linears']} / {p['clipped_linears']} clipped Linears")
print(f"quantscope AWQ search: {q['awq']['seconds']:.1f} s")
print(f"pytorch eager (llm-awq): {p['seconds']:.1f} s (torch {p['torch']}, {p['threads']} threads)")
print(f"ratio quantscope/pytorch: {q['awq']['seconds'] / p['seconds']:.2f}x (target <= 1.0)")
print(f"same chosen ratio in {same} of {len(ours)} groups")
PY
