#!/usr/bin/env bash
# quantscope-cli's option handling (CLI11 declarations, issue #18): --help generated from the
# declarations (every command, the method options once, engine defaults), COMMAND --help,
# usage errors (exit 2, naming the option and the value), the last of a repeated option wins,
# flags take =0, SmoothQuant's W8A8 defaults come before the other method options, and list
# values (--method a,b / repeated, --prompt-ids 1,2,3).
# Usage: cli_options.sh <quantscope-cli> <tests/data dir> <repo root>
set -u
CLI=$1
ROOT=$3
MODEL="$ROOT/resources/models/TinyStories-656K"
. "$(dirname "${BASH_SOURCE[0]}")/lib/harness.sh"
has() { grep -qF -- "$1" "$2"; }
expect_error() {  # expect_error NAME TEXT ARGS...: exit 2, TEXT on stderr, nothing on stdout
    local name=$1 text=$2
    shift 2
    run "$@"
    if [ "$rc" -ne 2 ]; then fail "$name: exit $rc, expected 2"
    elif ! has "$text" "$tmp/err"; then fail "$name: stderr lacks: $text"
    elif [ -s "$tmp/out" ]; then fail "$name: stdout is not empty"
    else ok "$name"; fi
}
config_has() {  # config_has NAME TEXT... : the quantize report (no --out) holds each TEXT
    local name=$1 t
    shift
    if [ "$rc" -ne 0 ]; then fail "$name: exit $rc"; return; fi
    for t in "$@"; do has "$t" "$tmp/out" || { fail "$name: report lacks $t"; return; }; done
    ok "$name"
}

# ---------------------------------------------------------------- help
run --help
if [ "$rc" -eq 0 ]; then ok "--help exits 0"; else fail "--help exits $rc"; fi
for c in "info:" "check:" "generate:" "ppl:" "sweep:" "quantize:" "recipe:" "Method options (ppl, sweep, quantize, recipe):"; do
    has "$c" "$tmp/out" || fail "--help lacks the section '$c'"
done
n=$(grep -c -- "--sq-alpha" "$tmp/out")
[ "$n" -eq 1 ] && ok "--help lists the method options once" || fail "--help lists --sq-alpha $n times"
for o in "--w-bits INT=4" "--group-size INT=128" "--sq-alpha FLOAT=0.5" "--calib-samples INT=128" "--gptq-damp FLOAT=0.01" \
         "--max-new-tokens INT=32" "--temperature FLOAT=1" "--logits-tokens INT=64" "--device D=cpu" "--kl" "--grid"; do
    has "$o" "$tmp/out" || fail "--help lacks '$o' (the declared default)"
done
ok "--help shows the declared defaults"
run
[ "$rc" -eq 1 ] && has "Commands:" "$tmp/out" && ok "no command: help, exit 1" || fail "no command: exit $rc"
run ppl --help
if [ "$rc" -eq 0 ] && has "--seqlen" "$tmp/out" && has "--awq-clip" "$tmp/out" && ! has "--logits-tokens" "$tmp/out"; then
    ok "ppl --help: its own options and the method options"
else fail "ppl --help: exit $rc"; fi

# ---------------------------------------------------------------- usage errors
expect_error "unknown command" "unknown command 'bogus'" bogus --model "$MODEL"
expect_error "unknown option" "unknown option --bogus for 'ppl'" ppl --model "$MODEL" --bogus 1
expect_error "unknown option with =" "unknown option --bogus for 'info'" info --bogus=1
expect_error "an option of another command" "unknown option --grid for 'ppl'" ppl --grid w-bits=3,4
expect_error "stray argument" "unexpected argument 'stray'" info --model "$MODEL" stray
expect_error "missing value" "option --w-bits needs a value" quantize --model "$MODEL" --w-bits
expect_error "not an integer" "option --calib-samples expects an integer, got '12x'" quantize --model "$MODEL" --calib-samples 12x
expect_error "not a number" "option --gptq-damp expects a number, got 'abc'" quantize --model "$MODEL" --gptq-damp abc
expect_error "int32 overflow" "option --a-bits is out of range, got '2147483648'" quantize --model "$MODEL" --a-bits 2147483648
expect_error "0|1 option" "--true-sequential expects 0 or 1, got 'yes'" quantize --model "$MODEL" --true-sequential yes
expect_error "range rule from the engine" "gptq_damp (--gptq-damp)" quantize --model "$MODEL" --method gptq --gptq-damp -1
expect_error "bad token id" "option --prompt-ids expects an integer, got 'x'" generate --model "$MODEL" --prompt-ids 1,x,3
expect_error "export options need --out" "need --out DIR" quantize --model "$MODEL" --force
expect_error "unknown grid option" "--grid: 'bogus' is not a method option" sweep --model "$MODEL" --grid bogus=1,2

# ---------------------------------------------------------------- values
run quantize --model "$MODEL" --w-bits 3 --w-bits 5 --group-size 64 --symmetric --fp16-scales --fp16-scales=0
config_has "the last of a repeated option wins; flags take =0" '"w_bits": 5' '"group_size": 64' '"symmetric": true' \
    '"fp16_scales": false'
run quantize --model "$MODEL" --group-size -1 --w-quant per-tensor --seed 7 --rotation hadamard --act-quant per-tensor --a-bits 4
config_has "negative values, enumerations, seed" '"w_quant": "per-tensor"' '"seed": 7' '"rotation": "hadamard"' \
    '"act_quant": "per-tensor"' '"a_bits": 4'
run quantize --model "$MODEL" --method smoothquant --calib-samples 2 --calib-seqlen 32
config_has "--method smoothquant: W8A8 defaults" '"w_bits": 8' '"w_quant": "per-channel"' '"symmetric": true' '"a_bits": 8' \
    '"act_quant": "per-token"'
run quantize --model "$MODEL" --method smoothquant --w-bits 6 --symmetric=0 --act-quant per-tensor --calib-samples 2 --calib-seqlen 32
config_has "options override the W8A8 defaults" '"w_bits": 6' '"symmetric": false' '"act_quant": "per-tensor"' '"a_bits": 8'
run quantize --model "$MODEL" --method rotate --method rtn --w-bits 4 --rotation hadamard-plain
config_has "--method repeated" '"rotate"' '"rtn"'
run generate --model "$MODEL" --prompt-ids 1,2,3 --max-new-tokens 2 --json
if [ "$rc" -eq 0 ] && grep -q '"prompt_ids":\[1,2,3\]' "$tmp/out"; then ok "--prompt-ids 1,2,3"; else fail "--prompt-ids: exit $rc"; fi

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
