#!/usr/bin/env bash
# Mixed precision (issue #16 item 5) on the command line: --override NAME=SPEC (repeatable) and
# --overrides FILE.json in ppl, quantize, recipe and sweep; the configuration JSON carries them, the
# report gives the average bits computed by hand, exports honour them (compressed-tensors config
# groups, AWQ GEMM modules_to_not_convert), and bad specs / unknown names are refused naming them.
# Usage: mixed_precision.sh <quantscope-cli> <tests/data dir> <repo root>
set -u
CLI=$1
DATA=$2
ROOT=$3
MODEL="$ROOT/resources/models/TinyStories-656K"
D0=model.layers.0.mlp.down_proj
U1=model.layers.1.mlp.up_proj
. "$(dirname "${BASH_SOURCE[0]}")/lib/harness.sh"
PPL=(--seqlen 64 --nsamples 2)

# TinyStories-656K: 2 x 196,608 decoder Linear weights; down_proj and up_proj 49,152 each.
# w4 g32 = 4.625 bits; D0 at w8 g64 = 8.3125; U1 skipped = 16.
run ppl --model "$MODEL" --method rtn --w-bits 4 --group-size 32 --override "$D0=w8:g64" --override "$U1=skip" "${PPL[@]}" --json
if [ "$rc" -eq 0 ] && python3 - "$tmp/out" "$D0" "$U1" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
d0, u1 = sys.argv[2], sys.argv[3]
ov = j["configuration"]["overrides"]
assert ov == {d0: {"bits": 8, "group_size": 64, "skip": False}, u1: {"bits": 0, "group_size": 0, "skip": True}}, ov
q = j["quantization"]
want = (294912 * 4.625 + 49152 * 8.3125 + 49152 * 16) / 393216
assert abs(q["average_bits"] - want) < 1e-12, (q["average_bits"], want)
assert abs(q["average_bits_without_scales"] - (294912 * 4 + 49152 * 8 + 49152 * 16) / 393216) < 1e-12
assert "+ 2 overrides" in j["configuration"]["description"]
assert j["ppl"] > 1
PY
then ok "ppl --override: configuration JSON, average bits by hand"
else fail "ppl --override (exit $rc)"; fi

# the same overrides from a file (the configuration JSON form) give the same perplexity
python3 - "$tmp/out" "$tmp/ov.json" <<'PY'
import json, sys
json.dump({"overrides": json.load(open(sys.argv[1]))["configuration"]["overrides"]}, open(sys.argv[2], "w"))
PY
ppl1=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ppl"])' "$tmp/out")
run ppl --model "$MODEL" --method rtn --w-bits 4 --group-size 32 --overrides "$tmp/ov.json" "${PPL[@]}" --json
ppl2=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ppl"])' "$tmp/out" 2>/dev/null)
if [ "$rc" -eq 0 ] && [ "$ppl1" = "$ppl2" ]; then ok "--overrides FILE gives the same perplexity ($ppl1)"
else fail "--overrides FILE: exit $rc, $ppl1 vs $ppl2"; fi

run ppl --model "$MODEL" --method rtn --w-bits 4 --group-size 32 --overrides "$tmp/ov.json" --override "$U1=w8" "${PPL[@]}" --json
if [ "$rc" -eq 0 ] && python3 -c 'import json,sys; o=json.load(open(sys.argv[1]))["configuration"]["overrides"][sys.argv[2]]; assert o=={"bits":8,"group_size":0,"skip":False}, o' "$tmp/out" "$U1"; then
    ok "--override after --overrides wins"
else fail "--override after --overrides (exit $rc)"; fi

run ppl --model "$MODEL" --method rtn --override "$D0=w9" "${PPL[@]}"
if [ "$rc" -eq 2 ] && grep -q "overrides\['$D0'\].bits (--override) must be 0 (the configuration's) or an integer in 2..8, found 9" "$tmp/err"; then
    ok "--override w9: refused naming the Linear"
else fail "--override w9: exit $rc"; fi

run ppl --model "$MODEL" --method rtn --override "$D0=w8:x" "${PPL[@]}"
if [ "$rc" -eq 2 ] && grep -q "override spec 'w8:x'" "$tmp/err"; then ok "a bad SPEC is refused with the accepted forms"
else fail "bad SPEC: exit $rc"; fi

run ppl --model "$MODEL" --method rtn --override "model.layers.3.mlp.down_proj=w8" "${PPL[@]}"
if [ "$rc" -ne 0 ] && grep -q "override 'model.layers.3.mlp.down_proj'" "$tmp/err" && grep -q "closest: model.layers" "$tmp/err"; then
    ok "unknown Linear: refused with the closest names"
else fail "unknown Linear: exit $rc"; fi

echo '{"x": [1]}' >"$tmp/bad.json"
run ppl --model "$MODEL" --method rtn --overrides "$tmp/bad.json" "${PPL[@]}"
if [ "$rc" -eq 2 ] && grep -q "bad.json\['x'\] must be an object" "$tmp/err"; then ok "--overrides: a malformed file is refused naming it"
else fail "--overrides malformed: exit $rc"; fi

# quantize --format compressed-tensors: one config group per spec, skipped Linears in ignore
run quantize --model "$MODEL" --method rtn --w-bits 4 --group-size 32 --override "$D0=w8:g64" --override "$U1=skip" \
    --format compressed-tensors --out "$tmp/ct" --json
if [ "$rc" -eq 0 ] && python3 - "$tmp/ct/config.json" "$D0" "$U1" <<'PY'
import json, sys
q = json.load(open(sys.argv[1]))["quantization_config"]
g = q["config_groups"]
assert g["group_0"]["targets"] == ["Linear"] and g["group_0"]["weights"]["group_size"] == 32, g
assert g["group_1"]["targets"] == [sys.argv[2]] and g["group_1"]["weights"]["num_bits"] == 8, g
assert q["ignore"] == [sys.argv[3], "lm_head"], q["ignore"]
PY
then ok "quantize --format compressed-tensors: config groups and ignore"
else fail "quantize compressed-tensors (exit $rc)"; fi

# the export reopens with the session's perplexity
run ppl --model "$MODEL" --method rtn --w-bits 4 --group-size 32 --override "$D0=w8:g64" --override "$U1=skip" "${PPL[@]}" --json
p_session=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ppl"])' "$tmp/out")
run ppl --model "$tmp/ct" "${PPL[@]}" --json
p_export=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ppl"])' "$tmp/out" 2>/dev/null)
if [ "$rc" -eq 0 ] && [ "$p_session" = "$p_export" ]; then ok "the compressed-tensors export reopens to the same perplexity ($p_export)"
else fail "reopened ppl: exit $rc, $p_session vs $p_export"; fi

run quantize --model "$MODEL" --method rtn --w-bits 4 --group-size 64 --override "$D0=skip" --format awq-gemm --out "$tmp/awq" --json
if [ "$rc" -eq 0 ] && python3 -c 'import json,sys; q=json.load(open(sys.argv[1]))["quantization_config"]; assert q["modules_to_not_convert"]==[sys.argv[2]], q' "$tmp/awq/config.json" "$D0"; then
    ok "quantize --format awq-gemm: skipped Linear in modules_to_not_convert"
else fail "awq-gemm skip (exit $rc)"; fi

run quantize --model "$MODEL" --method rtn --w-bits 4 --group-size 64 --override "$D0=w8" --format awq-gemm --out "$tmp/awq2"
if [ "$rc" -ne 0 ] && grep -q "'$D0': its override (w8) cannot be held" "$tmp/err" && [ ! -e "$tmp/awq2" ]; then
    ok "awq-gemm refuses a bits override naming the Linear, writes nothing"
else fail "awq-gemm w8 override: exit $rc"; fi

run recipe --model "$MODEL" --method gptq --override "$D0=w8" --override "$U1=skip"
if [ "$rc" -eq 0 ] && grep -q "ignore: \[$U1, lm_head\]" "$tmp/out" && grep -q "targets: \[$D0\]" "$tmp/out"; then
    ok "recipe: per-layer config group and ignore"
else fail "recipe with overrides (exit $rc)"; fi

run recipe --model "$MODEL" --method rtn --override "model.layers.0.mlp.dwn_proj=w8"
if [ "$rc" -ne 0 ] && grep -q "closest: $D0" "$tmp/err"; then ok "recipe: an unknown Linear is refused with the closest name"
else fail "recipe unknown Linear: exit $rc"; fi

run sweep --model "$MODEL" --method rtn --w-bits 3 --group-size 64 --grid "override=$D0=w8,$D0=skip" "${PPL[@]}" --format json
if [ "$rc" -eq 0 ] && python3 - "$tmp/out" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))["rows"]
assert len(rows) == 2 and all("+ 1 override" in r["configuration"] for r in rows), rows
assert rows[0]["ppl"] != rows[1]["ppl"]
PY
then ok "sweep --grid override=NAME=SPEC,...: one row per override"
else fail "sweep over overrides (exit $rc)"; fi

run ppl --help
if [ "$rc" -eq 0 ] && grep -q -- "--override NAME=SPEC" "$tmp/out" && grep -q -- "--overrides FILE.json" "$tmp/out"; then
    ok "help lists --override and --overrides"
else fail "help (exit $rc)"; fi

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
