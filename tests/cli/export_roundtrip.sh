#!/usr/bin/env bash
# `quantscope-cli quantize` end to end: export TinyStories-656K as awq-gemm and int8, reopen
# the exports with `ppl --model OUT` and compare with the fake-quant perplexity of the same
# configuration (awq-gemm: within 1e-4 relative, its scales are fp16; int8: equal), export
# fake/transformed and reload them, and check the refusals (source folder, existing output,
# AWQ GEMM on stories260K's FFN of 172) leave no partial output.
# Usage: export_roundtrip.sh <quantscope-cli> <tests/data dir> <repo root>
set -u
CLI=$1
DATA=$2
ROOT=$3
MODEL="$ROOT/resources/models/TinyStories-656K"
[ -x "$CLI" ] || { echo "FAIL: $CLI is not executable"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0 passes=0
ok() { passes=$((passes + 1)); echo "ok: $1"; }
fail() { fails=$((fails + 1)); echo "FAIL: $1"; [ -f "$tmp/err" ] && echo "  stderr: $(head -c 1500 "$tmp/err")"; }

# a small evaluation text (the tokenizer fixtures' English sample, repeated)
text="$tmp/eval.txt"
for i in $(seq 24); do cat "$DATA/tokenizer_texts/english.txt" "$DATA/tokenizer_texts/code.txt"; done >"$text"
[ -s "$text" ] || { echo "FAIL: no evaluation text"; exit 1; }
PPL=(--dataset "$text" --seqlen 128 --nsamples 4 --json)

ppl_of() {  # prints the ppl field of `quantscope-cli ppl ... --json`
    "$CLI" ppl "$@" "${PPL[@]}" 2>"$tmp/err" | grep -o '"ppl":[^,}]*' | head -n 1 | cut -d: -f2
}
rel_le() {  # rel_le A B TOL: |A-B|/|A| <= TOL
    awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; if (a < 0) a = -a; exit !(a > 0 && d / a <= t) }'
}
no_leftovers() {
    if ls -d "$tmp"/*.tmp-* "$tmp"/*.old-* >/dev/null 2>&1; then fail "$1: temporary folder left behind"; else ok "$1: nothing left behind"; fi
}

AWQ=(--method rtn --w-bits 4 --group-size 64 --a-bits 0)
INT8=(--method rtn --w-bits 8 --w-quant per-channel --symmetric --a-bits 0)

# 1. awq-gemm
p_fake=$(ppl_of --model "$MODEL" "${AWQ[@]}")
if "$CLI" quantize --model "$MODEL" "${AWQ[@]}" --format awq-gemm --out "$tmp/awq" >"$tmp/out" 2>"$tmp/err"; then
    grep -q '"quant_method": "awq"' "$tmp/awq/config.json" && grep -q '"version": "gemm"' "$tmp/awq/config.json" &&
        [ -f "$tmp/awq/tokenizer.json" ] && ok "awq-gemm export: quantization_config and tokenizer" ||
        fail "awq-gemm export: config.json or tokenizer files"
    p_awq=$(ppl_of --model "$tmp/awq")
    # exact: the fake export of what the AWQ files represent (fp16 scales, fp16 other tensors)
    "$CLI" quantize --model "$MODEL" "${AWQ[@]}" --format fake --awq-reference --out "$tmp/awq-ref" >"$tmp/out" 2>"$tmp/err" ||
        fail "quantize --format fake --awq-reference"
    p_ref=$(ppl_of --model "$tmp/awq-ref")
    if [ -n "$p_awq" ] && [ "$p_awq" = "$p_ref" ]; then ok "awq-gemm reload ppl $p_awq == AWQ reference ppl $p_ref"
    else fail "awq-gemm reload ppl '$p_awq' vs AWQ reference '$p_ref'"; fi
    # the session's fp32 fake-quant model: only AutoAWQ's fp16 storage (scales, embeddings,
    # norms) separates them; measured 2.7e-4 relative here
    if [ -n "$p_fake" ] && [ -n "$p_awq" ] && rel_le "$p_fake" "$p_awq" 1e-3; then
        ok "awq-gemm reload ppl $p_awq vs fp32 fake-quant $p_fake (<= 1e-3 relative)"
    else
        fail "awq-gemm reload ppl '$p_awq' vs fake-quant '$p_fake'"
    fi
else
    fail "quantize --format awq-gemm"
fi

# 2. int8: equal perplexity
p_fake8=$(ppl_of --model "$MODEL" "${INT8[@]}")
if "$CLI" quantize --model "$MODEL" "${INT8[@]}" --format int8 --out "$tmp/int8" >"$tmp/out" 2>"$tmp/err"; then
    p_int8=$(ppl_of --model "$tmp/int8")
    if [ -n "$p_int8" ] && [ "$p_int8" = "$p_fake8" ]; then ok "int8 reload ppl $p_int8 == fake-quant $p_fake8"
    else fail "int8 reload ppl '$p_int8' vs fake-quant '$p_fake8'"; fi
else
    fail "quantize --format int8"
fi

# 3. fake and transformed reload (check validates every tensor)
for f in fake transformed; do
    extra=()
    [ $f = transformed ] && extra=(--method rotate,rtn --rotation hadamard --w-bits 4 --a-bits 0)
    [ $f = fake ] && extra=("${AWQ[@]}")
    if "$CLI" quantize --model "$MODEL" "${extra[@]}" --format $f --out "$tmp/$f" --json >"$tmp/out" 2>"$tmp/err" &&
        grep -q '"export"' "$tmp/out" && "$CLI" check --model "$tmp/$f" >/dev/null 2>"$tmp/err"; then
        ok "$f export loads back"
    else
        fail "$f export"
    fi
done
p_fake_reload=$(ppl_of --model "$tmp/fake")
[ -n "$p_fake_reload" ] && [ "$p_fake_reload" = "$p_fake" ] && ok "fake reload ppl equals fake-quant ppl" ||
    fail "fake reload ppl '$p_fake_reload' vs '$p_fake'"

# 4. without --out: the quantization report as JSON
if "$CLI" quantize --model "$MODEL" "${AWQ[@]}" >"$tmp/out" 2>"$tmp/err" && grep -q '"configuration"' "$tmp/out" &&
    grep -q '"size_mib_packed"' "$tmp/out"; then ok "quantize without --out prints the report"
else fail "quantize without --out"; fi

# 5. refusals: exit 2, the reason on stderr, nothing written
expect_refusal() {  # NAME EXPECTED-TEXT ARGS...
    local name=$1 expected=$2
    shift 2
    "$CLI" quantize "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    if [ $rc -eq 2 ] && grep -qF -- "$expected" "$tmp/err"; then ok "refuses $name"
    else fail "$name: exit $rc, expected 2 with '$expected'"; fi
}
cp -r "$MODEL" "$tmp/src"
before=$(cd "$tmp/src" && find . -type f -exec sha256sum {} + | sort)
expect_refusal "the source folder" "is the source model folder" --model "$tmp/src" "${AWQ[@]}" --format fake --out "$tmp/src"
expect_refusal "a folder inside the source" "inside the source model folder" --model "$tmp/src" "${AWQ[@]}" --format fake --out "$tmp/src/out"
expect_refusal "--force over the source" "is the source model folder" --model "$tmp/src" "${AWQ[@]}" --format fake --out "$tmp/src" --force
after=$(cd "$tmp/src" && find . -type f -exec sha256sum {} + | sort)
[ "$before" = "$after" ] && ok "source folder untouched" || fail "source folder changed"
expect_refusal "an existing output" "already exists" --model "$MODEL" "${AWQ[@]}" --format awq-gemm --out "$tmp/awq"
expect_refusal "awq-gemm on stories260K" "'model.layers.0.mlp.gate_proj' has 172 output features" \
    --model "$DATA/models/stories260K" "${AWQ[@]}" --format awq-gemm --out "$tmp/s260k"
[ ! -e "$tmp/s260k" ] && ok "no output for a refused export" || fail "a refused export left $tmp/s260k"
expect_refusal "activation quantization" "cannot be stored in a checkpoint" --model "$MODEL" --method rtn --w-bits 4 --a-bits 8 --format awq-gemm --out "$tmp/act"
expect_refusal "an unknown format" "unknown export format 'gguf'" --model "$MODEL" "${AWQ[@]}" --format gguf --out "$tmp/g"
# --force replaces a previous export
if "$CLI" quantize --model "$MODEL" "${INT8[@]}" --format int8 --out "$tmp/awq" --force >"$tmp/out" 2>"$tmp/err" &&
    grep -q quantscope_w8a16 "$tmp/awq/config.json"; then ok "--force replaces an existing export"
else fail "--force"; fi
no_leftovers "after all exports"

echo "$passes passed, $fails failed"
[ $fails -eq 0 ]
