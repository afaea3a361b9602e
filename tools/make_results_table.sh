#!/usr/bin/env bash
# The README's results table: wikitext-2 perplexity (seqlen 512, 10 windows) of the two real
# fixtures under each method, through quantscope-cli. Prints a Markdown table.
#   tools/make_results_table.sh [BUILD_DIR]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cli="${1:-$root/build}/bin/quantscope-cli"
calib_samples="${CALIB_SAMPLES:-128}"
models=("$root/resources/models/TinyStories-656K" "$root/tests/data/models/stories260K")
configs=(
  "fp32|"
  "RTN w4 g64|--method rtn --w-bits 4 --group-size 64"
  "RTN w4 g32|--method rtn --w-bits 4 --group-size 32"
  "RTN w3 g64|--method rtn --w-bits 3 --group-size 64"
  "RTN w3 g32|--method rtn --w-bits 3 --group-size 32"
  "GPTQ w4 g64|--method gptq --w-bits 4 --group-size 64"
  "GPTQ w3 g64|--method gptq --w-bits 3 --group-size 64"
  "GPTQ w3 g32|--method gptq --w-bits 3 --group-size 32"
  "GPTQ w3 g32 act-order|--method gptq --w-bits 3 --group-size 32 --act-order"
  "AWQ keep 1% (w3 g32)|--method awq-keep --w-bits 3 --group-size 32"
  "AWQ x1 salient 1% (w3 g32)|--method awq-scale --awq-factor 1 --w-bits 3 --group-size 32"
  "AWQ x2 salient 1% (w3 g32)|--method awq-scale --awq-factor 2 --w-bits 3 --group-size 32"
  "AWQ x3 salient 1% (w3 g32)|--method awq-scale --awq-factor 3 --w-bits 3 --group-size 32"
  "AWQ x4 salient 1% (w3 g32)|--method awq-scale --awq-factor 4 --w-bits 3 --group-size 32"
  "AWQ auto-scale (w3 g32)|--method awq --w-bits 3 --group-size 32"
  "AWQ auto-scale + clip (w3 g32)|--method awq --awq-clip --w-bits 3 --group-size 32"
  "SmoothQuant W8A8 alpha 0|--method smoothquant --sq-alpha 0"
  "SmoothQuant W8A8 alpha 0.5|--method smoothquant --sq-alpha 0.5"
  "SmoothQuant W8A8 alpha 0.85|--method smoothquant --sq-alpha 0.85"
  "RTN W4 per-tensor (sym)|--method rtn --w-bits 4 --w-quant per-tensor --symmetric"
  "Hadamard rotation + RTN W4 per-tensor (sym)|--method rotate,rtn --rotation hadamard --w-bits 4 --w-quant per-tensor --symmetric"
  "plain Hadamard rotation + RTN W4 per-tensor (sym)|--method rotate,rtn --rotation hadamard-plain --w-bits 4 --w-quant per-tensor --symmetric"
  "random rotation + RTN W4 per-tensor (sym)|--method rotate,rtn --rotation random --w-bits 4 --w-quant per-tensor --symmetric"
)
declare -A ppl
calib=""
for m in "${models[@]}"; do
  for c in "${configs[@]}"; do
    name="${c%%|*}"; opts="${c#*|}"
    # shellcheck disable=SC2086
    out=$("$cli" ppl --model "$m" --seqlen 512 --nsamples 10 --calib-samples "$calib_samples" $opts --json 2>/dev/null)
    ppl["$m|$name"]=$(echo "$out" | sed 's/.*"ppl":\([0-9.e+]*\).*/\1/')
    c_desc=$(echo "$out" | grep -o '"calibration":"[^"]*"' | head -1 | sed 's/"calibration":"\(.*\)"/\1/' || true)
    [ -n "$c_desc" ] && calib="$c_desc"
    echo "$(basename "$m") | $name | ${ppl["$m|$name"]}" >&2
  done
done
echo "| configuration | TinyStories-656K | stories260K |"
echo "| --- | ---: | ---: |"
for c in "${configs[@]}"; do
  name="${c%%|*}"
  printf "| %s | %.2f | %.2f |\n" "$name" "${ppl["${models[0]}|$name"]}" "${ppl["${models[1]}|$name"]}"
done
echo
echo "Protocol: wikitext-2-raw-v1 test, \"\\n\\n\".join(rows), single BOS, 10 non-overlapping windows of 512 tokens, fp32, CPU."
echo "Calibration (AWQ, SmoothQuant): $calib"
