#!/usr/bin/env bash
# Perplexity speed: QuantScope vs PyTorch eager + transformers, same machine, same run,
# interleaved, on a random-weight OPT-125m-shaped model (generated locally, not committed),
# wikitext-2, seqlen 2048, 4 windows, fp32 and bf16. Prints medians and ratios.
#
#   tools/bench/bench_ppl.sh [BUILD_DIR] [RUNS]        (Python: /work/pyenv/venv or $PYTHON)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
build="${1:-$root/build}"
runs="${2:-5}"
cli="$build/bin/quantscope-cli"
threads=$(nproc)
out="$root/tools/bench/out/ppl_bench_$(date +%Y%m%d_%H%M%S).jsonl"
machine_line "$cli" | tee "$out.txt"
for r in $(seq 1 "$runs"); do
  for dt in fp32 bf16; do
    q=$("$cli" ppl --model "$model" --tokenizer "$tok" --seqlen 2048 --nsamples 4 --dtype "$dt" --json 2>/dev/null)
    echo "{\"who\":\"quantscope\",\"dtype\":\"$dt\",\"run\":$r,\"result\":$q}" >> "$out"
    t=$(cd "$root" && "$py" tools/bench/bench_ppl_transformers.py --model "$model" --tokenizer "$tok" --seqlen 2048 \
          --nsamples 4 --dtype "$dt" --threads "$threads" 2>/dev/null)
    echo "{\"who\":\"transformers\",\"dtype\":\"$dt\",\"run\":$r,\"result\":$t}" >> "$out"
  done
done
"$py" - "$out" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
med = {}
for who in ("quantscope", "transformers"):
    for dt in ("fp32", "bf16"):
        rs = [r["result"] for r in rows if r["who"] == who and r["dtype"] == dt]
        med[(who, dt)] = (statistics.median(x["tokens_per_second"] for x in rs), statistics.median(x["ppl"] for x in rs), len(rs))
for (who, dt), (tps, ppl, n) in med.items():
    print(f"{who:13s} {dt}: median {tps:8.1f} tokens/s over {n} runs, ppl {ppl:.4f}")
q32, t32, qbf = med[("quantscope","fp32")][0], med[("transformers","fp32")][0], med[("quantscope","bf16")][0]
print(f"ratio quantscope/transformers fp32: {q32/t32:.2f}x (target >= 1.0)")
print(f"ratio quantscope bf16/fp32:         {qbf/q32:.2f}x (target >= 1.5)")
p32, pbf = med[("quantscope","fp32")][1], med[("quantscope","bf16")][1]
print(f"quantscope bf16 vs fp32 ppl:        {abs(pbf-p32)/p32*100:.3f}% (target <= 1%)")
PY
