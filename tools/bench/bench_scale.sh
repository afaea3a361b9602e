#!/usr/bin/env bash
# Scale benchmarks of the session engine (issue #12): peak memory of load + method + perplexity
# on big random-weight models of real shapes, and the block-sequential run of a model larger
# than memory. Models come from tools/bench/make_random_model.py (made on first use, never
# committed; ~40 GB of disk for both Llama shapes).
#
#   tools/bench/bench_scale.sh memory  [--cli PATH] [--model DIR] [--only RUN,...]   # Llama-2-7B-shaped bf16: 5 runs
#   tools/bench/bench_scale.sh stream  [--cli PATH] [--model DIR]   # Llama-2-13B-shaped bf16, block-sequential
#
# Each run is `quantscope-cli ppl --nsamples 1 --seqlen 256 --dtype bf16 [method]` under
# /usr/bin/time -v; the report gives peak RSS (VmHWM: anonymous memory AND mapped file pages)
# against the checkpoint's bytes and against the bare process (`quantscope-cli --version`).
# --only picks some of the memory runs (plain, rtn, awq, smoothquant-w8a8, rotate-rtn): on 2 shared
# cores the 7B method runs take hours, so they may be spread over several invocations.
# AWQ uses 2 calibration blocks of 128 tokens (the peak memory does not depend on it: the
# calibration inputs of one block are ~4 MB; the search time does).
# Results: one JSON line per run in tools/bench/out/scale_<what>_<date>.jsonl, and a table.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
what="${1:-memory}"; shift || true
cli=""
model=""
only=""
while [ $# -gt 0 ]; do
  case "$1" in
    --cli) cli="$2"; shift 2 ;;
    --model) model="$2"; shift 2 ;;
    --only) only=",$2,"; shift 2 ;;
    *) echo "bench_scale.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -n "$cli" ] || for c in "$root"/build*/bin/quantscope-cli; do [ -x "$c" ] && { cli="$c"; break; }; done
[ -x "$cli" ] || { echo "bench_scale.sh: quantscope-cli not found (--cli PATH)" >&2; exit 2; }
py="${PYTHON:-python3}"
mkdir -p "$here/out"
case "$what" in
  memory) shape=llama-2-7b ;;
  stream) shape=llama-2-13b ;;
  *) echo "bench_scale.sh: memory or stream" >&2; exit 2 ;;
esac
[ -n "$model" ] || model="$here/out/$shape-bf16"
[ -f "$model/model.safetensors" ] || "$py" "$here/make_random_model.py" "$shape" "$model" --dtype bf16
out="$here/out/scale_${what}_$(date -u +%Y%m%d_%H%M%S).jsonl"
file_bytes=$(stat -c %s "$model/model.safetensors")

peak_kib() { sed -n 's/.*Maximum resident set size (kbytes): //p' "$1"; }
wall() { sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$1"; }

/usr/bin/time -v "$cli" --version > /dev/null 2> "$here/out/.time_bare"
bare_kib=$(peak_kib "$here/out/.time_bare")

run() {  # name, extra args...
  local name="$1"; shift
  if [ -n "$only" ] && [[ "$only" != *",$name,"* ]]; then return 0; fi
  local t="$here/out/.time_$name" j="$here/out/.json_$name"
  local rc=0
  /usr/bin/time -v "$cli" ppl --model "$model" --dtype bf16 --nsamples 1 --seqlen 256 --json "$@" > "$j" 2> "$t" || rc=$?
  local peak; peak=$(peak_kib "$t")
  "$py" - "$name" "$rc" "$peak" "$bare_kib" "$file_bytes" "$(wall "$t")" "$j" "$*" >> "$out" <<'EOF'
import json, sys
name, rc, peak, bare, fbytes, wall, jpath, args = sys.argv[1:]
peak_b, bare_b, f = int(peak) * 1024, int(bare) * 1024, int(fbytes)
row = {"run": name, "args": args, "exit": int(rc), "peak_rss_bytes": peak_b, "bare_process_bytes": bare_b,
       "checkpoint_bytes": f, "peak_over_checkpoint": peak_b / f, "peak_minus_bare_over_checkpoint": (peak_b - bare_b) / f,
       "wall": wall}
try:
    d = json.load(open(jpath))
    row.update({"ppl": d["ppl"], "mode": d["mode"], "ppl_seconds": d["seconds"],
                "apply_seconds": d.get("quantization", {}).get("seconds")})
except Exception as e:
    row["error"] = str(e)
print(json.dumps(row))
EOF
  tail -1 "$out"
}

echo "# $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB RAM; $("$cli" --version | sed -n 2p); $(date -u)" | tee -a "${out%.jsonl}.txt"
if [ "$what" = memory ]; then
  run plain
  run rtn --method rtn --w-bits 4 --group-size 128
  run awq --method awq --w-bits 4 --group-size 128 --calib-samples 2 --calib-seqlen 128
  run smoothquant-w8a8 --method smoothquant,rtn --w-bits 8 --w-quant per-channel --symmetric --a-bits 8 --calib-samples 2 --calib-seqlen 256
  run rotate-rtn --method rotate,rtn --rotation hadamard --w-bits 4 --group-size 128
else
  run rtn-auto --method rtn --w-bits 4 --group-size 128 --nsamples 2
fi
"$py" - "$out" <<'EOF' | tee -a "${out%.jsonl}.txt"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print(f"{'run':<18}{'exit':>5}{'mode':>18}{'peak RSS GiB':>14}{'x ckpt':>8}{'(peak-bare)/ckpt':>18}{'apply s':>9}{'ppl s':>8}{'wall':>10}")
for r in rows:
    print(f"{r['run']:<18}{r['exit']:>5}{r.get('mode','-'):>18}{r['peak_rss_bytes']/2**30:>14.2f}{r['peak_over_checkpoint']:>8.3f}"
          f"{r['peak_minus_bare_over_checkpoint']:>18.3f}{(r.get('apply_seconds') or 0):>9.0f}{r.get('ppl_seconds',0):>8.1f}{r['wall']:>10}")
EOF
echo "results: $out"
