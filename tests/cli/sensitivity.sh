#!/usr/bin/env bash
# quantscope-cli sensitivity (per-layer sensitivity map, issue #16 item 4): the JSON's numbers agree
# with `ppl` (base = the unquantized ppl, total = the configuration's ppl and KL on the same windows),
# every quantized decoder Linear and block has an entry, CSV and table carry the same rows, --out
# writes a file, --imatrix-channels adds per-channel sums, and bad options fail with exit 2 naming them.
# Usage: sensitivity.sh <quantscope-cli> <tests/data dir> <repo root>
set -u
CLI=$1
DATA=$2
ROOT=$3
MODEL="$ROOT/resources/models/TinyStories-656K"
OPT="$DATA/models/opt-ppl-random"
. "$(dirname "${BASH_SOURCE[0]}")/lib/harness.sh"

W="--seqlen 64 --nsamples 3"
run ppl --model "$MODEL" $W --json && cp "$tmp/out" "$tmp/base.json"
run ppl --model "$MODEL" $W --method rtn --w-bits 3 --group-size 64 --kl --json && cp "$tmp/out" "$tmp/q.json"
run sensitivity --model "$MODEL" $W --method rtn --w-bits 3 --group-size 64 --format json --out "$tmp/s.json"
if [ "$rc" -eq 0 ] && [ ! -s "$tmp/out" ] && python3 - "$tmp/s.json" "$tmp/base.json" "$tmp/q.json" <<'PY'
import json, math, sys
s, base, q = (json.load(open(p)) for p in sys.argv[1:4])
assert math.isclose(s["base_ppl"], base["ppl"], rel_tol=1e-9), (s["base_ppl"], base["ppl"])
assert math.isclose(s["total"]["ppl"], q["ppl"], rel_tol=1e-9)
assert math.isclose(s["total"]["kl"]["mean"], q["kl"]["mean"], rel_tol=1e-9)
lin = [e for e in s["entries"] if e["kind"] == "linear"]
blk = [e for e in s["entries"] if e["kind"] == "block"]
assert len(lin) == 14 and len(blk) == 2, (len(lin), len(blk))
assert [e["order"] for e in lin] == list(range(14))
assert lin[6]["name"] == "model.layers.0.mlp.down_proj" and lin[6]["role"] == "down_proj" and lin[6]["block"] == 0
for e in s["entries"]:
    assert math.isclose(e["delta_ppl"], e["ppl"] - s["base_ppl"], rel_tol=1e-9, abs_tol=1e-9)
    assert e["kl"]["mean"] > 0 and 0 < e["kl"]["top1_agreement"] <= 1 and e["kl"]["tokens"] == 3 * 63
for e in lin:
    assert e["imatrix"]["tokens"] == 192 and e["imatrix"]["max_over_mean"] >= 1
# a block hurts more than its mildest Linear
assert blk[0]["kl"]["mean"] > min(e["kl"]["mean"] for e in lin if e["block"] == 0)
assert "3 non-overlapping windows of 64 tokens" in s["protocol"] and s["seqlen"] == 64
assert s["configuration"] == "w3 g64 asym", s["configuration"]
assert "imatrix_sum_sq" not in s
PY
then ok "JSON: base = ppl, total = ppl --kl, 14 Linears + 2 blocks, imatrix, protocol"
else fail "sensitivity --format json (exit $rc)"; fi

run sensitivity --model "$MODEL" $W --method rtn --w-bits 3 --group-size 64 --format csv --scope linears --no-total
if [ "$rc" -eq 0 ] && [ "$(wc -l <"$tmp/out")" -eq 15 ] && head -1 "$tmp/out" | grep -q "^kind,name,role,block,params,ppl,delta_ppl,kl_mean" \
   && python3 - "$tmp/out" "$tmp/s.json" <<'PY'
import csv, json, math, sys
rows = list(csv.DictReader(open(sys.argv[1])))
s = {e["name"]: e for e in json.load(open(sys.argv[2]))["entries"]}
for r in rows:
    assert r["kind"] == "linear"
    assert math.isclose(float(r["kl_mean"]), s[r["name"]]["kl"]["mean"], rel_tol=1e-6), r
    assert math.isclose(float(r["ppl"]), s[r["name"]]["ppl"], rel_tol=1e-6), r
PY
then ok "CSV --scope linears: 14 rows, same numbers as the JSON"
else fail "sensitivity --format csv (exit $rc)"; fi

run sensitivity --model "$OPT" --seqlen 32 --nsamples 2 --method rtn --w-bits 4 --group-size 16 --scope blocks --sort ppl
if [ "$rc" -eq 0 ] && grep -q "^# w4 g16 asym" "$tmp/out" && grep -q "base ppl" "$tmp/out" \
   && [ "$(grep -c '^block ' "$tmp/out")" -eq 2 ] && ! grep -q '^linear ' "$tmp/out"; then
    ok "table on an OPT model, --scope blocks"
else fail "sensitivity table OPT (exit $rc)"; fi

run sensitivity --model "$MODEL" --seqlen 32 --nsamples 1 --method rtn --scope linears --no-total --format json --imatrix-channels
if [ "$rc" -eq 0 ] && python3 - "$tmp/out" <<'PY'
import json, sys
s = json.load(sys.stdin if False else open(sys.argv[1]))
ch = s["imatrix_sum_sq"]
assert len(ch) == 14 and len(ch["model.layers.0.mlp.down_proj"]) == 384 and len(ch["model.layers.0.self_attn.q_proj"]) == 128
assert all(v >= 0 for v in ch["model.layers.1.mlp.down_proj"]) and s["total"] is None
PY
then ok "--imatrix-channels: per-channel sums of every Linear"
else fail "--imatrix-channels (exit $rc)"; fi

# mixed precision from the map: the 3 most sensitive Linears by mean KL at w8, written as an
# overrides file that ppl --overrides reads; its ppl is that of the same three --override flags
run sensitivity --model "$MODEL" $W --method rtn --w-bits 3 --group-size 64 --format json --no-total \
    --override model.layers.1.self_attn.o_proj=skip --keep-top 3 --keep-as w8 --overrides-out "$tmp/ov.json"
cp "$tmp/out" "$tmp/s3.json"
if [ "$rc" -eq 0 ] && grep -q "3 Linear(s) kept at w8 (most sensitive by kl)" "$tmp/err" && python3 - "$tmp/ov.json" "$tmp/s3.json" <<'PY'
import json, sys
ov, s = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
lin = [e for e in s["entries"] if e["kind"] == "linear"]
top = [e["name"] for e in sorted(lin, key=lambda e: -e["kl"]["mean"])[:3]]
assert ov["selected_by"]["linears"] == top, (ov["selected_by"], top)
assert ov["selected_by"]["top"] == 3 and ov["selected_by"]["spec"] == "w8"
want = {n: {"bits": 8, "group_size": 0, "skip": False} for n in top}
want.setdefault("model.layers.1.self_attn.o_proj", {"bits": 0, "group_size": 0, "skip": True})
assert ov["overrides"] == want, ov["overrides"]
# the skipped Linear is not a candidate (the configuration leaves it unquantized)
assert "model.layers.1.self_attn.o_proj" not in [e["name"] for e in lin] and len(lin) == 13
PY
then ok "--keep-top 3 --overrides-out: the 3 largest mean KL at w8, the configuration's own override kept"
else fail "--keep-top (exit $rc)"; fi
flags=$(python3 -c "import json,sys; print(' '.join('--override %s=%s' % (n, 'skip' if o['skip'] else 'w8') for n, o in json.load(open(sys.argv[1]))['overrides'].items()))" "$tmp/ov.json")
run ppl --model "$MODEL" $W --method rtn --w-bits 3 --group-size 64 --overrides "$tmp/ov.json" --json && cp "$tmp/out" "$tmp/p1.json"
run ppl --model "$MODEL" $W --method rtn --w-bits 3 --group-size 64 $flags --json && cp "$tmp/out" "$tmp/p2.json"
if [ "$rc" -eq 0 ] && python3 - "$tmp/p1.json" "$tmp/p2.json" "$tmp/q.json" <<'PY'
import json, sys
a, b, q = (json.load(open(p)) for p in sys.argv[1:4])
assert a["ppl"] == b["ppl"], (a["ppl"], b["ppl"])
assert a["ppl"] < q["ppl"], (a["ppl"], q["ppl"])  # 8-bit where it hurt most: closer to the original
PY
then ok "ppl --overrides FILE from sensitivity == the same --override flags, and below plain w3"
else fail "ppl --overrides from sensitivity (exit $rc)"; fi
run sensitivity --model "$MODEL" --method rtn --keep-top 2
if [ "$rc" -eq 2 ] && grep -q -- "--keep-top N and --overrides-out FILE go together" "$tmp/err"; then ok "--keep-top without --overrides-out refused"
else fail "--keep-top alone (exit $rc)"; fi
run sensitivity --model "$MODEL" --method rtn --keep-top 2 --keep-as w9x --overrides-out "$tmp/x.json"
if [ "$rc" -eq 2 ] && grep -q "w9x" "$tmp/err" && [ ! -e "$tmp/x.json" ]; then ok "--keep-as w9x refused before any work"
else fail "--keep-as w9x (exit $rc)"; fi

run sensitivity --model "$MODEL" $W
if [ "$rc" -ne 0 ] && grep -q "needs a weight quantizer" "$tmp/err"; then ok "no method: refused, says why"
else fail "no method (exit $rc)"; fi
run sensitivity --model "$MODEL" --method rtn --scope layers
if [ "$rc" -ne 0 ] && grep -q "scope must be linears, blocks or both" "$tmp/err"; then ok "--scope layers refused"
else fail "--scope (exit $rc)"; fi
run sensitivity --model "$MODEL" --method rtn --nsamples 0
if [ "$rc" -ne 0 ] && grep -q "nsamples" "$tmp/err"; then ok "--nsamples 0 refused"
else fail "--nsamples 0 (exit $rc)"; fi
run sensitivity --model "$MODEL" --method rtn --seqlen 64 --nsamples 1 --out /nonexistent-dir/s.txt
if [ "$rc" -ne 0 ] && grep -q "/nonexistent-dir/s.txt: the folder /nonexistent-dir does not exist" "$tmp/err"; then ok "--out into a missing folder: named"
else fail "--out missing folder (exit $rc)"; fi
cp -r "$MODEL" "$tmp/model"
run sensitivity --model "$tmp/model" --method rtn --seqlen 64 --nsamples 1 --out "$tmp/model/s.csv" --format csv
if [ "$rc" -ne 0 ] && grep -q "lies inside the model folder" "$tmp/err" && [ ! -e "$tmp/model/s.csv" ]; then
    ok "--out inside the model folder: refused, nothing written"
else fail "--out inside the model folder (exit $rc)"; fi
run sensitivity --help
if [ "$rc" -eq 0 ] && grep -q -- "--imatrix-channels" "$tmp/out" && grep -q -- "--w-bits" "$tmp/out"; then ok "--help lists its options and the method options"
else fail "--help (exit $rc)"; fi

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
