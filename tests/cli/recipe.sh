#!/usr/bin/env bash
# quantscope-cli recipe (llm-compressor recipe export, issue #16 item 6): prints the fixture that
# llm-compressor's own parser checked (tests/data/llmc_recipes, tools/goldens/check_llmc_recipe.py),
# --out writes the same bytes atomically (no temporaries left), --json gives recipe +
# not_carried_over, the method options are quantize's (CLI11 range rules), and nothing is written
# into the model folder or for a configuration with no method.
# Usage: recipe.sh <quantscope-cli> <tests/data dir> <repo root>
set -u
CLI=$1
DATA=$2
ROOT=$3
MODEL="$ROOT/resources/models/TinyStories-656K"
OPT="$DATA/models/opt-preln-random"
. "$(dirname "${BASH_SOURCE[0]}")/lib/harness.sh"

run recipe --model "$MODEL" --method rtn
if [ "$rc" -eq 0 ] && cmp -s "$tmp/out" "$DATA/llmc_recipes/rtn_w4_g128_asym.yaml"; then
    ok "recipe --method rtn prints the checked fixture"
else fail "recipe --method rtn (exit $rc) differs from rtn_w4_g128_asym.yaml"; fi

run recipe --model "$OPT" --method awq --awq-clip --w-bits 3 --calib-samples 64 --calib-seqlen 256 --out "$tmp/r.yaml"
if [ "$rc" -eq 0 ] && cmp -s "$tmp/r.yaml" "$DATA/llmc_recipes/awq_clip_w3_opt.yaml" && grep -q "^written        $tmp/r.yaml" "$tmp/out" \
   && [ -z "$(ls "$tmp" | grep -F .tmp-)" ]; then
    ok "--out writes the checked OPT AWQ fixture atomically"
else fail "--out (exit $rc)"; fi

run recipe --model "$MODEL" --method smoothquant --sq-alpha 0.8 --json
if [ "$rc" -eq 0 ] && python3 - "$tmp/out" "$DATA/llmc_recipes/smoothquant_w8a8.yaml" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
assert j["recipe"] == open(sys.argv[2]).read()
assert len(j["not_carried_over"]) == 2 and "activation grid" in j["not_carried_over"][1]
assert j["configuration"]["sq_alpha"] == 0.8 and j["model"] == {"name": "TinyStories-656K", "arch": "llama", "hidden_size": 128}
PY
then ok "--json: recipe, not_carried_over, configuration, model"
else fail "--json (exit $rc)"; fi

run recipe --model "$MODEL"
if [ "$rc" -eq 2 ] && grep -q "no method" "$tmp/err" && [ ! -s "$tmp/out" ]; then ok "no --method: exit 2, says why"
else fail "no --method: exit $rc"; fi

run recipe --model "$MODEL" --method rtn --w-bits 9
if [ "$rc" -eq 2 ] && grep -q "w_bits (--w-bits) must be an integer in 2..8" "$tmp/err"; then ok "method options keep their range rules"
else fail "--w-bits 9: exit $rc"; fi

run recipe --model "$OPT" --method rotate --rotation hadamard
if [ "$rc" -eq 2 ] && grep -q "has an llm-compressor counterpart: rotate" "$tmp/err"; then ok "OPT rotation alone: refused, says why"
else fail "OPT rotate: exit $rc"; fi

mkdir -p "$tmp/model" && cp "$OPT/config.json" "$OPT/model.safetensors" "$tmp/model/"
run recipe --model "$tmp/model" --method rtn --out "$tmp/model/recipe.yaml"
if [ "$rc" -eq 2 ] && [ ! -e "$tmp/model/recipe.yaml" ] && grep -q "recipe.yaml" "$tmp/err"; then ok "never into the model folder"
else fail "--out into the model folder: exit $rc"; fi

run recipe --help
if [ "$rc" -eq 0 ] && grep -q -- "--out FILE" "$tmp/out" && grep -q -- "--gptq-damp" "$tmp/out"; then ok "recipe --help: its options and the method options"
else fail "recipe --help: exit $rc"; fi

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
