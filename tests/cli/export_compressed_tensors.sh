#!/usr/bin/env bash
# `quantscope-cli quantize --format compressed-tensors` end to end on TinyStories-656K: the JSON
# report it prints, the files and the quantization_config it writes (compressed-tensors'
# pack-quantized layout), `ppl --model OUT` equal to the fake-quant perplexity of the same
# configuration (fp32 scales: exact), and the refusals (3 bits, activation quantization,
# GPTQ act-order without static groups, partial groups) that leave nothing behind and never
# touch the source.
# Usage: export_compressed_tensors.sh <quantscope-cli> <tests/data dir> <repo root>
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
has() { grep -q -- "$2" "$1"; }  # has FILE PATTERN

text="$tmp/eval.txt"
for i in $(seq 24); do cat "$DATA/tokenizer_texts/english.txt"; done >"$text"
PPL=(--dataset "$text" --seqlen 128 --nsamples 3 --json)
ppl_of() { "$CLI" ppl "$@" "${PPL[@]}" 2>"$tmp/err" | grep -o '"ppl":[^,}]*' | head -n 1 | cut -d: -f2; }
src_sum() { (cd "$MODEL" && find . -type f -exec sha256sum {} + | sort); }
before=$(src_sum)

for cfg in "w4 g32 asym:--method rtn --w-bits 4 --group-size 32" \
    "w4 g64 sym:--method rtn --w-bits 4 --group-size 64 --symmetric" \
    "w8 channel sym:--method rtn --w-bits 8 --w-quant per-channel --symmetric"; do
    name=${cfg%%:*}
    read -r -a M <<<"${cfg#*:}"
    out="$tmp/ct-${name// /-}"
    if "$CLI" quantize --model "$MODEL" "${M[@]}" --format compressed-tensors --out "$out" --json >"$tmp/out" 2>"$tmp/err"; then
        has "$tmp/out" '"format": "compressed-tensors"' && has "$tmp/out" '"quantized_linears": 14' &&
            has "$tmp/out" '"model.safetensors"' && has "$tmp/out" '"config.json"' && has "$tmp/out" '"tokenizer.json"' &&
            has "$tmp/out" "\"out_dir\": \"$out\"" && ok "$name: JSON report (format, 14 Linears, files, out_dir)" ||
            fail "$name: JSON report: $(head -c 600 "$tmp/out")"
        c="$out/config.json"
        has "$c" '"quant_method": "compressed-tensors"' && has "$c" '"format": "pack-quantized"' &&
            has "$c" '"quantization_status": "compressed"' && tr -d ' \n' <"$c" | grep -q '"ignore":\["lm_head"\]' &&
            tr -d ' \n' <"$c" | grep -q '"targets":\["Linear"\]' && ok "$name: config.json quantization_config" ||
            fail "$name: config.json quantization_config"
        for f in model.safetensors tokenizer.json quantscope_export.json; do
            [ -f "$out/$f" ] || fail "$name: $f not written"
        done
        head -c 20000 "$out/model.safetensors" | grep -q 'model.layers.0.self_attn.q_proj.weight_packed' &&
            head -c 20000 "$out/model.safetensors" | grep -q 'q_proj.weight_shape' && ok "$name: packed tensors" ||
            fail "$name: no weight_packed / weight_shape tensors"
        if [ "$name" = "w4 g32 asym" ]; then
            head -c 20000 "$out/model.safetensors" | grep -q 'weight_zero_point' && ok "$name: zero points" ||
                fail "$name: no weight_zero_point"
        else
            head -c 20000 "$out/model.safetensors" | grep -q 'weight_zero_point' && fail "$name: zero points written" ||
                ok "$name: no zero points (symmetric)"
        fi
        p_fake=$(ppl_of --model "$MODEL" "${M[@]}")
        p_ct=$(ppl_of --model "$out")
        if [ -n "$p_ct" ] && [ "$p_ct" = "$p_fake" ]; then ok "$name: reopened ppl $p_ct == fake-quant ppl $p_fake"
        else fail "$name: reopened ppl '$p_ct' vs fake-quant '$p_fake'"; fi
    else
        fail "$name: quantize --format compressed-tensors"
    fi
done

refused() {  # refused LABEL MESSAGE ARGS...
    local label=$1 msg=$2
    shift 2
    if "$CLI" quantize --model "$MODEL" "$@" --format compressed-tensors --out "$tmp/refused" >"$tmp/out" 2>"$tmp/err"; then
        fail "$label: exported"
    elif grep -q -- "$msg" "$tmp/err"; then ok "$label: refused ($msg)"
    else fail "$label: message lacks '$msg'"; fi
    if ls -d "$tmp"/refused* >/dev/null 2>&1; then fail "$label: output left behind"; fi
}
refused "3 bits" "W4A16 or W8A16" --method rtn --w-bits 3 --group-size 32
refused "W8A8" "activation fake quantization (a8) cannot be stored" --method rtn --w-bits 8 --w-quant per-channel --symmetric --a-bits 8
refused "GPTQ act-order" "drop --act-order, or add --static-groups" --method gptq --w-bits 4 --group-size 32 --act-order --calib-samples 2 --calib-seqlen 32
refused "no method" "needs quantized weights"
if "$CLI" quantize --model "$DATA/models/stories260K" --method rtn --w-bits 4 --group-size 64 --format compressed-tensors --out "$tmp/refused" >"$tmp/out" 2>"$tmp/err"; then
    fail "stories260K g64: exported"
elif grep -q "'model.layers.0.mlp.down_proj' has 172 input features" "$tmp/err"; then ok "stories260K g64: refused naming the Linear"
else fail "stories260K g64: message"; fi

[ "$(src_sum)" = "$before" ] && ok "source folder unchanged" || fail "source folder changed"
echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
