#!/usr/bin/env bash
# Thread-pool set-ups of the Debian build, side by side (issue #18 item 7): which OpenBLAS
# (pthread pool beside libgomp's, or the OpenMP build sharing libgomp's pool) and which OpenMP
# wait policy (PASSIVE, as process_setup.cpp sets for Debian's libtorch, or libgomp's default
# spin-then-sleep). Runs AWQ auto-scale + clip (2 x 512 calibration tokens) and a perplexity of
# 2 x 512 tokens on the random OPT-125m of common.sh, every set-up once per round, REPS rounds
# interleaved; prints the median seconds of each and writes the raw rows as JSON lines.
#
#   tools/bench/bench_threads.sh [CLI] [REPS]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cli="${1:-$root/build/bin/quantscope-cli}"
reps="${2:-3}"
omp_blas=/usr/lib/x86_64-linux-gnu/openblas-openmp
[ -f "$omp_blas/libblas.so.3" ] || { echo "bench_threads.sh: needs libopenblas0-openmp installed" >&2; exit 2; }
stamp=$(date +%Y%m%d_%H%M%S)
out="$root/tools/bench/out/threads_$stamp"
machine_line "$cli" | tee "$out.txt"
# name|environment prefix. "OMP_WAIT_POLICY=default" is no policy libgomp knows: it keeps its
# default wait (and says so on stderr), and stops QuantScope from setting PASSIVE.
setups=(
  "pthread-blas+passive (shipped)|env"
  "pthread-blas+default-wait|env OMP_WAIT_POLICY=default"
  "openmp-blas+default-wait|env LD_LIBRARY_PATH=$omp_blas OMP_WAIT_POLICY=default"
  "openmp-blas+passive|env LD_LIBRARY_PATH=$omp_blas OMP_WAIT_POLICY=PASSIVE"
)
for ((r = 1; r <= reps; r++)); do
  for s in "${setups[@]}"; do
    name="${s%%|*}"; pre="${s#*|}"
    t0=$(date +%s.%N)
    $pre "$cli" quantize --model "$model" --tokenizer "$tok" --method awq --awq-clip --w-bits 4 --group-size 128 \
      --calib-samples 2 --calib-seqlen 512 --json > "$out.awq.json" 2>/dev/null
    t1=$(date +%s.%N)
    $pre "$cli" ppl --model "$model" --tokenizer "$tok" --nsamples 2 --seqlen 512 --json > "$out.ppl.json" 2>/dev/null
    t2=$(date +%s.%N)
    awq=$(python3 -c "import json;print(json.load(open('$out.awq.json'))['awq']['seconds'])")
    echo "{\"setup\": \"$name\", \"round\": $r, \"awq_search_s\": $awq, \"awq_wall_s\": $(echo "$t1 - $t0" | bc), \"ppl_wall_s\": $(echo "$t2 - $t1" | bc)}" | tee -a "$out.jsonl"
  done
done
python3 - "$out.jsonl" <<'PY' | tee -a "$out.txt"
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
for name in dict.fromkeys(r["setup"] for r in rows):
    rs = [r for r in rows if r["setup"] == name]
    med = {k: statistics.median(r[k] for r in rs) for k in ("awq_search_s", "awq_wall_s", "ppl_wall_s")}
    print(f"{name:34s} AWQ search {med['awq_search_s']:6.1f} s  AWQ wall {med['awq_wall_s']:6.1f} s  "
          f"ppl wall {med['ppl_wall_s']:5.1f} s  (median of {len(rs)})")
PY
