#!/usr/bin/env bash
# Perplexity speed, QuantScope vs Hugging Face transformers with its default SDPA attention,
# side by side on the same machine: runs interleaved (QuantScope, transformers, QuantScope, ...)
# so that load from other processes hits both alike, medians over the runs, bf16 and fp32, on
# random-weight models of real shapes (made locally with make_random_model.py, never committed):
#   opt-1.3b     OPT-1.3B shape, seqlen 2048
#   llama-2-7b   Llama-2-7B shape, seqlen 256 (13.5 GB in bf16; fp32 would need 27 GB)
#   llama-2-7b-8l  the Llama-2-7B shape cut to 8 of its 32 decoder layers (every tensor of
#                its real shape, 1.9 G parameters), for fp32 on a 24 GB machine
# Both sides time only the model evaluation (load and tokenization excluded) and compute the
# same numbers (docs/notes.md §6 protocol), so their perplexities must agree.
#
#   tools/bench/bench_speed.sh [--cli PATH] [--runs N] [--shapes opt-1.3b,llama-2-7b-8l]
#                              [--dtypes bf16,fp32] [--nsamples N] [--models DIR]
#
# PYTHON: a Python with torch, transformers, numpy, zstandard and sentencepiece (default
# /work/venv-speed/bin/python). --models: where the random models are (default
# tools/bench/out/models; made there on first use). Output: a JSON line per run in
# tools/bench/out/speed_*.jsonl and a Markdown table on stdout.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
py="${PYTHON:-/work/venv-speed/bin/python}"
cli="$root/build-pip/bin/quantscope-cli"
runs=3
shapes="opt-1.3b,llama-2-7b-8l"
dtypes="bf16,fp32"
nsamples=""
models="$root/tools/bench/out/models"
while [ $# -gt 0 ]; do
  case "$1" in
    --cli) cli="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --shapes) shapes="$2"; shift 2 ;;
    --dtypes) dtypes="$2"; shift 2 ;;
    --nsamples) nsamples="$2"; shift 2 ;;
    --models) models="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[ -x "$cli" ] || { echo "no quantscope-cli at $cli (build it, or pass --cli)" >&2; exit 2; }
threads=$(nproc)
mkdir -p "$root/tools/bench/out"
out="$root/tools/bench/out/speed_$(date +%Y%m%d_%H%M%S).jsonl"

# model directory of a shape (made on first use)
model_dir() {
  local shape="$1" dir
  case "$shape" in
    opt-1.3b) dir="$models/opt-1.3b-fp16"; [ -f "$dir/model.safetensors" ] || "$py" "$root/tools/bench/make_random_model.py" opt-1.3b "$dir" --dtype fp16 >&2 ;;
    llama-2-7b) dir="$models/llama-2-7b-bf16"; [ -f "$dir/model.safetensors" ] || "$py" "$root/tools/bench/make_random_model.py" llama-2-7b "$dir" --dtype bf16 >&2 ;;
    llama-2-7b-8l) dir="$models/llama-2-7b-8l-bf16"; [ -f "$dir/model.safetensors" ] || "$py" "$root/tools/bench/make_random_model.py" llama-2-7b "$dir" --dtype bf16 --layers 8 >&2 ;;
    *) echo "unknown shape $shape" >&2; exit 2 ;;
  esac
  echo "$dir"
}
seqlen_of() { case "$1" in opt-*) echo 2048 ;; *) echo 256 ;; esac; }
nsamples_of() { [ -n "$nsamples" ] && { echo "$nsamples"; return; }; case "$1" in opt-*) echo 2 ;; *) echo 4 ;; esac; }

libtorch=$("$cli" --version | sed -n 2p)
pyver=$("$py" -c 'import torch, transformers; print(f"torch {torch.__version__}, transformers {transformers.__version__}")')
cpu=$(lscpu | sed -n 's/^Model name: *//p')
echo "machine: $cpu, $threads cores, $(free -g | awk '/^Mem:/{print $2}') GB; QuantScope: $libtorch; reference: $pyver (attn sdpa); $(date -u +%Y-%m-%d)" | tee "$out.txt"

IFS=, read -r -a shape_list <<< "$shapes"
IFS=, read -r -a dtype_list <<< "$dtypes"
for r in $(seq 1 "$runs"); do
  for shape in "${shape_list[@]}"; do
    dir=$(model_dir "$shape")
    sl=$(seqlen_of "$shape"); ns=$(nsamples_of "$shape")
    for dt in "${dtype_list[@]}"; do
      q=$("$cli" ppl --model "$dir" --seqlen "$sl" --nsamples "$ns" --dtype "$dt" --json 2>/dev/null)
      echo "{\"who\":\"quantscope\",\"shape\":\"$shape\",\"dtype\":\"$dt\",\"run\":$r,\"result\":$q}" >> "$out"
      t=$(cd "$root" && "$py" tools/bench/bench_ppl_transformers.py --model "$dir" --tokenizer "$dir" --seqlen "$sl" \
            --nsamples "$ns" --dtype "$dt" --threads "$threads" --attn sdpa 2>/dev/null)
      echo "{\"who\":\"transformers\",\"shape\":\"$shape\",\"dtype\":\"$dt\",\"run\":$r,\"result\":$t}" >> "$out"
      echo "run $r $shape $dt: quantscope $(echo "$q" | "$py" -c 'import json,sys; print(round(json.load(sys.stdin)["tokens_per_second"],1))') tok/s," \
           "transformers $(echo "$t" | "$py" -c 'import json,sys; print(round(json.load(sys.stdin)["tokens_per_second"],1))') tok/s" >&2
    done
  done
done
"$py" - "$out" <<'PY' | tee -a "$out.txt"
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
keys = []
for r in rows:
    k = (r["shape"], r["dtype"])
    if k not in keys:
        keys.append(k)
print("| shape | dtype | seqlen x windows | QuantScope tok/s | transformers (SDPA) tok/s | ratio | ppl QuantScope / transformers |")
print("| --- | --- | --- | --- | --- | --- | --- |")
for shape, dt in keys:
    q = [r["result"] for r in rows if r["who"] == "quantscope" and (r["shape"], r["dtype"]) == (shape, dt)]
    t = [r["result"] for r in rows if r["who"] == "transformers" and (r["shape"], r["dtype"]) == (shape, dt)]
    qm = statistics.median(x["tokens_per_second"] for x in q)
    tm = statistics.median(x["tokens_per_second"] for x in t)
    print(f"| {shape} | {dt} | {q[0]['seqlen']} x {q[0]['nsamples']} | {qm:.1f} (median of {len(q)}) | "
          f"{tm:.1f} (median of {len(t)}) | {qm / tm:.2f}x | {q[0]['ppl']:.2f} / {t[0]['ppl']:.2f} |")
PY
echo "runs: $out"
