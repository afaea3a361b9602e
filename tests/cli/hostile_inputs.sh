#!/usr/bin/env bash
# Hostile inputs and interrupted work through quantscope-cli (issue #15). Every case runs with
# an address-space limit (ulimit -v; tests/cli/lib/vmem_limit.sh: the CLI's libraries + 2.5 GB,
# ~3 GB with Debian's libtorch: memory stays bounded, an unbounded allocation ends in
# bad_alloc = exit 3 = a failure here) and a 90 s timeout (a hang = exit 124 = a failure), and
# must exit with the exact code given, naming the file or option and the problem on stderr.
# The source model's checksums are compared before and after the whole run, and no temporary
# (*.tmp-PID) may be left anywhere.
# Engine-level and timing-sensitive cases (SIGBUS, SIGTERM mid-write, SIGKILL and rerun) are in
# tests/engine/test_hostile_*.cpp and test_gguf_hostile.cpp; the GUI's in tests/gui/test_workbench_hostile.cpp.
# Usage: hostile_inputs.sh <quantscope-cli> <tests/data dir> <repo root>
set -u
CLI=$1
DATA=$2
ROOT=$3
MODEL="$ROOT/resources/models/TinyStories-656K"
LIMIT=${HOSTILE_TIMEOUT:-90}  # seconds before a case counts as hung
[ -x "$CLI" ] || { echo "FAIL: $CLI is not executable"; exit 1; }
. "$(dirname "${BASH_SOURCE[0]}")/lib/vmem_limit.sh"
VMEM=$(vmem_limit "$CLI")
echo "address-space limit: $VMEM KiB"
command -v zstd >/dev/null || { echo "FAIL: the zstd program is needed (packaging/setup-debian.sh installs it)"; exit 1; }
tmp=$(mktemp -d)
chmod 755 "$tmp"  # the unreadable-folder case runs the CLI as another user
trap 'chmod -R u+rwx "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
fails=0 passes=0
ok() { passes=$((passes + 1)); echo "ok   $1"; }
fail() {
    fails=$((fails + 1))
    echo "FAIL $1"
    echo "  stdout: $(head -c 600 "$tmp/out")"
    echo "  stderr: $(tail -c 1200 "$tmp/err")"
}
run() {  # run ARGS...: the CLI under the memory limit and a timeout; sets rc
    (ulimit -v "$VMEM" && exec timeout "$LIMIT" "$CLI" "$@") >"$tmp/out" 2>"$tmp/err"
    rc=$?
}
expect() {  # expect NAME CODE TEXT ARGS...: exit CODE and TEXT on stderr (and nothing on stdout for errors)
    local name=$1 code=$2 text=$3
    shift 3
    run "$@"
    if [ "$rc" -eq 124 ]; then fail "$name: hung (killed after $LIMIT s)"
    elif [ "$rc" -ne "$code" ]; then fail "$name: exit $rc, expected $code"
    elif ! grep -qF -- "$text" "$tmp/err"; then fail "$name: stderr lacks: $text"
    elif [ "$code" -eq 2 ] && [ -s "$tmp/out" ]; then fail "$name: stdout is not empty"
    else ok "$name"; fi
}

cp -r "$MODEL" "$tmp/src"
sums() { (cd "$tmp/src" && find . -type f -exec sha256sum {} + | sort); }
before=$(sums)
SRC="$tmp/src"
PPL=(--nsamples 1 --seqlen 64)

# ---------------------------------------------------------------- data loss
expect "dump-logits over the source weights" 2 "src/model.safetensors: lies inside the model folder" \
    quantize --model "$SRC" --method rtn --dump-logits "$SRC/model.safetensors"
expect "dump-logits over the source config.json" 2 "lies inside the model folder" \
    quantize --model "$SRC" --method rtn --dump-logits "$SRC/config.json"
expect "dump-logits into the source folder" 2 "src/new.safetensors: lies inside the model folder" \
    quantize --model "$SRC" --method rtn --dump-logits "$SRC/new.safetensors"
ln -s "$SRC/config.json" "$tmp/link.json"
expect "dump-logits through a symlink into the source" 2 "link.json: lies inside the model folder" \
    quantize --model "$SRC" --method rtn --dump-logits "$tmp/link.json"
cp -r "$MODEL" "$tmp/tok"
expect "dump-logits into the --tokenizer folder" 2 "tok/x.safetensors: lies inside the model folder" \
    quantize --model "$SRC" --tokenizer "$tmp/tok" --method rtn --dump-logits "$tmp/tok/x.safetensors"
expect "export into the source folder" 2 "is the source model folder" \
    quantize --model "$SRC" --method rtn --out "$SRC" --force

# ---------------------------------------------------------------- hangs: pipes and devices
mkdir -p "$tmp/fifo_w" "$tmp/fifo_c" "$tmp/fifo_t"
cp "$MODEL/config.json" "$tmp/fifo_w/" && mkfifo "$tmp/fifo_w/model.safetensors"
cp "$MODEL/model.safetensors" "$tmp/fifo_c/" && mkfifo "$tmp/fifo_c/config.json"
cp "$MODEL"/*.json "$MODEL/model.safetensors" "$tmp/fifo_t/" && rm "$tmp/fifo_t/tokenizer.json" && mkfifo "$tmp/fifo_t/tokenizer.json"
mkfifo "$tmp/fifo.txt" "$tmp/fifo.jsonl"
ln -s /dev/zero "$tmp/zero.txt"
ln -s /dev/zero "$tmp/zero.jsonl"
expect "FIFO as model.safetensors" 2 "fifo_w/model.safetensors: is a named pipe (FIFO)" check --model "$tmp/fifo_w"
expect "FIFO as config.json" 2 "fifo_c/config.json: is a named pipe (FIFO)" check --model "$tmp/fifo_c"
expect "FIFO as tokenizer.json" 2 "no tokenizer in $tmp/fifo_t" ppl --model "$tmp/fifo_t" "${PPL[@]}"
expect "FIFO as the dataset" 2 "fifo.txt: is a named pipe (FIFO)" ppl --model "$SRC" --dataset "$tmp/fifo.txt" "${PPL[@]}"
expect "FIFO as the calibration file" 2 "fifo.jsonl: is a named pipe (FIFO)" \
    ppl --model "$SRC" --method awq-scale --calib "$tmp/fifo.jsonl" "${PPL[@]}"
expect "/dev/zero as the dataset" 2 "zero.txt: is a character device" ppl --model "$SRC" --dataset "$tmp/zero.txt" "${PPL[@]}"
expect "/dev/zero as the calibration file" 2 "zero.jsonl: is a character device" \
    ppl --model "$SRC" --method awq-scale --calib "$tmp/zero.jsonl" "${PPL[@]}"

# ---------------------------------------------------------------- unbounded memory: bombs, long lines, sparse files
# zstd bombs: one 64 MiB frame repeated (a few hundred KB expanding to GBs)
head -c 67108864 /dev/zero | tr '\0' a | zstd -q -3 -c >"$tmp/frame_a.zst"
for i in $(seq 64); do cat "$tmp/frame_a.zst"; done >"$tmp/bomb_line.jsonl.zst"  # 4 GiB, one line
cp "$tmp/bomb_line.jsonl.zst" "$tmp/bomb.txt.zst"
rec="{\"text\": \"$(head -c 4000 /dev/zero | tr '\0' c)\"}"
yes "$rec" | head -n 16000 | zstd -q -3 -c >"$tmp/frame_r.zst"  # 64 MB of records per frame
for i in $(seq 64); do cat "$tmp/frame_r.zst"; done >"$tmp/bomb_records.jsonl.zst"
ls -l "$tmp"/bomb*.zst | awk '{ printf "  (bomb %s: %d bytes)\n", $NF, $5 }'
expect "zstd bomb, one line, as calibration" 2 "bomb_line.jsonl.zst: line 1 is longer than 16 MiB" \
    ppl --model "$SRC" --method awq-scale --calib "$tmp/bomb_line.jsonl.zst" "${PPL[@]}"
expect "zstd bomb as a .txt dataset" 2 "bomb.txt.zst: more than 32 MiB of text after decompression" \
    ppl --model "$SRC" --dataset "$tmp/bomb.txt.zst" "${PPL[@]}"
expect "zstd bomb, many records, as a dataset" 2 "bomb_records.jsonl.zst: more than 32 MiB of text" \
    ppl --model "$SRC" --dataset "$tmp/bomb_records.jsonl.zst" "${PPL[@]}"
head -c 52428800 /dev/zero | tr '\0' w >"$tmp/long.txt"
cp "$tmp/long.txt" "$tmp/long.raw"
{ printf '{"text": "'; cat "$tmp/long.txt"; printf '"}\n'; } >"$tmp/long.jsonl"
expect "50 MB single line, .txt dataset" 2 "long.txt: more than 32 MiB of text" ppl --model "$SRC" --dataset "$tmp/long.txt" "${PPL[@]}"
expect "50 MB single line, .raw dataset" 2 "long.raw: line 1 is longer than 16 MiB" ppl --model "$SRC" --dataset "$tmp/long.raw" "${PPL[@]}"
expect "50 MB single line, .jsonl calibration" 2 "long.jsonl: line 1 is longer than 16 MiB" \
    ppl --model "$SRC" --method awq-scale --calib "$tmp/long.jsonl" "${PPL[@]}"
cp -r "$MODEL" "$tmp/sparse"
truncate -s 10G "$tmp/sparse/config.json"
expect "10 GB sparse config.json" 2 "sparse/config.json: 10 GiB, larger than the 16 MiB a config file may have" check --model "$tmp/sparse"
expect "--calib-seqlen 100000 on a 512-token model (hung)" 2 \
    "calib_seqlen (--calib-seqlen) 100000 is longer than the model's context (max_position_embeddings 512)" \
    ppl --model "$SRC" --method awq-scale --calib-seqlen 100000 --calib-samples 1 "${PPL[@]}"

# ---------------------------------------------------------------- internal errors that must be specific
ln -s "$tmp/loop" "$tmp/loop"
expect "symlink loop as the model folder" 2 "loop: symbolic link loop" check --model "$tmp/loop"
cp -r "$MODEL" "$tmp/locked"
chmod 000 "$tmp/locked"
if [ "$(id -u)" -eq 0 ]; then
    if command -v setpriv >/dev/null; then
        (ulimit -v "$VMEM" && exec timeout 90 setpriv --reuid=65534 --regid=65534 --clear-groups "$CLI" check --model "$tmp/locked") \
            >"$tmp/out" 2>"$tmp/err"
        rc=$?
        if [ $rc -eq 2 ] && grep -qF "locked: permission denied" "$tmp/err"; then ok "unreadable model folder (as nobody)"
        else fail "unreadable model folder (as nobody): exit $rc"; fi
    else
        echo "skip unreadable model folder (root without setpriv)"
    fi
else
    expect "unreadable model folder" 2 "locked: permission denied" check --model "$tmp/locked"
fi
chmod 755 "$tmp/locked"

tok_case() {  # tok_case NAME SED-SCRIPT: a copy of the model whose tokenizer.json is edited
    cp -r "$MODEL" "$tmp/$1"
    sed -i "$2" "$tmp/$1/tokenizer.json"
}
tok_case big_added '0,/"added_tokens": \[/s//"added_tokens": [{"id": 5000, "content": "<big>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": false},/'
for i in $(seq 40); do echo "Once upon a time <big> there was a little girl."; done >"$tmp/big.txt"
expect "tokenizer ids beyond the model's vocab_size" 2 "token id 5000 is outside the model's vocabulary [0, 2048)" \
    ppl --model "$tmp/big_added" --dataset "$tmp/big.txt" "${PPL[@]}"
tok_case string_id '0,/"id": 0,/s//"id": "0",/'
expect "added token with a string id" 2 "string_id/tokenizer.json: added_tokens[0]: 'id' must be a token id" \
    ppl --model "$tmp/string_id" "${PPL[@]}"
tok_case bos_outside '/"ids": \[/{n;s/1/99999/}'
rm "$tmp/bos_outside/tokenizer_config.json" "$tmp/bos_outside/special_tokens_map.json"
expect "BOS id outside the vocabulary" 2 "bos_outside/tokenizer.json: post_processor adds token id 99999, which is not in the vocabulary" \
    ppl --model "$tmp/bos_outside" "${PPL[@]}"
tok_case huge_id 's/"<unk>": 0,/"<unk>": 0, "zzzz": 2147483647,/'
expect "vocab id 2^31-1 (was bad_alloc)" 2 "huge_id/tokenizer.json: token 'zzzz' has id 2147483647, far beyond" \
    ppl --model "$tmp/huge_id" "${PPL[@]}"

# ---------------------------------------------------------------- nonsense values
expect "--seqlen -5" 2 "seqlen (--seqlen) must be at least 2" ppl --model "$SRC" --seqlen -5
expect "--seqlen 0" 2 "--seqlen must be at least 2, found 0" ppl --model "$SRC" --seqlen 0
expect "--batch 0" 2 "batch (--batch) must be in 1..4096, found 0" ppl --model "$SRC" --batch 0 "${PPL[@]}"
expect "--nsamples 0" 2 "--nsamples must be a positive integer or 'all'" ppl --model "$SRC" --nsamples 0
expect "--awq-factor inf" 2 "option --awq-factor expects a finite number, got 'inf'" ppl --model "$SRC" --method awq-scale --awq-factor inf "${PPL[@]}"
expect "--awq-factor 0" 2 "awq_factor (--awq-factor) must be a positive finite number, found 0" ppl --model "$SRC" --method awq-scale --awq-factor 0 "${PPL[@]}"
expect "--sq-alpha nan" 2 "option --sq-alpha expects a finite number, got 'nan'" ppl --model "$SRC" --method smoothquant --sq-alpha nan "${PPL[@]}"
expect "--sq-alpha -1" 2 "sq_alpha (--sq-alpha) must be a number in [0, 1], found -1" ppl --model "$SRC" --method smoothquant --sq-alpha -1 "${PPL[@]}"
expect "--awq-salient nan" 2 "option --awq-salient expects a finite number, got 'nan'" ppl --model "$SRC" --method awq-keep --awq-salient nan "${PPL[@]}"
expect "--awq-salient 2" 2 "awq_salient (--awq-salient) must be a fraction in [0, 1], found 2" ppl --model "$SRC" --method awq-keep --awq-salient 2 "${PPL[@]}"
expect "--w-bits 4294967300 (int overflow)" 2 "option --w-bits is out of range" ppl --model "$SRC" --method rtn --w-bits 4294967300 "${PPL[@]}"
expect "--w-bits 99" 2 "w_bits (--w-bits) must be an integer in 2..8, found 99" ppl --model "$SRC" --method rtn --w-bits 99 "${PPL[@]}"
expect "--seed 99999999999999999999" 2 "option --seed is out of range" ppl --model "$SRC" --method rotate --seed 99999999999999999999 "${PPL[@]}"
expect "--calib-samples 0" 2 "calib_samples (--calib-samples) must be an integer in 1..1000000, found 0" ppl --model "$SRC" --method awq --calib-samples 0 "${PPL[@]}"
expect "--temperature nan" 2 "option --temperature expects a finite number, got 'nan'" generate --model "$SRC" --prompt-ids 1,2 --sample --temperature nan
expect "--temperature 0" 2 "temperature (--temperature) must be a positive finite number, found 0" generate --model "$SRC" --prompt-ids 1,2 --sample --temperature 0
expect "--top-p -1" 2 "top_p (--top-p) must be in (0, 1] (1 = off), found -1" generate --model "$SRC" --prompt-ids 1,2 --sample --top-p -1
expect "--top-k -1" 2 "top_k (--top-k) must be >= 0" generate --model "$SRC" --prompt-ids 1,2 --sample --top-k -1
expect "--max-new-tokens -1" 2 "max_new_tokens (--max-new-tokens) must be in 0..1048576, found -1" generate --model "$SRC" --prompt-ids 1,2 --max-new-tokens -1
expect "sweep grid value nan" 2 "option --sq-alpha expects a finite number, got 'nan'" sweep --model "$SRC" --method smoothquant --grid sq-alpha=0.5,nan "${PPL[@]}"
expect "sweep grid value 99 bits" 2 "w_bits (--w-bits) must be an integer in 2..8, found 99" sweep --model "$SRC" --method rtn --grid w-bits=4,99 "${PPL[@]}"
# finite values whose product overflows: the perplexity would be NaN
expect "a NaN perplexity is never printed" 2 "perplexity: window 1 of 1 (tokens 0..63) has a non-finite loss" \
    ppl --model "$SRC" --method awq-scale --awq-factor 1e300 "${PPL[@]}"
grep -qi "nan" "$tmp/out" && fail "stdout shows a NaN: $(cat "$tmp/out")"

# ---------------------------------------------------------------- interrupted work
out="$tmp/exp"
(ulimit -v "$VMEM" && ulimit -f 512 && exec "$CLI" quantize --model "$SRC" --method rtn --out "$out") >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -eq 2 ] && grep -qF "file too large for the file system or the file-size limit (ulimit -f)" "$tmp/err" && [ ! -e "$out" ]; then
    ok "file-size limit during export (was SIGXFSZ, exit 153, OUT.tmp-PID left)"
else
    fail "file-size limit during export: exit $rc"
fi
# SIGTERM while the quantization runs (mid-write signals: tests/engine/test_hostile_signals.cpp)
(ulimit -v "$VMEM" && exec "$CLI" quantize --model "$SRC" --method awq-scale --out "$tmp/term") >"$tmp/out" 2>"$tmp/err" &
pid=$!
for i in $(seq 600); do grep -qE "calibration set ready|calibration: " "$tmp/err" 2>/dev/null && break; sleep 0.05; done
kill -TERM $pid
wait $pid
rc=$?
if [ $rc -eq 143 ] && grep -qF "cancelled (SIGTERM)" "$tmp/err" && [ ! -e "$tmp/term" ]; then ok "SIGTERM cancels (exit 143, nothing written)"
else fail "SIGTERM: exit $rc"; fi

# ---------------------------------------------------------------- GGUF files (llama.cpp)
# (one problem per file: the gguf_* cases of tests/data/broken, run by broken_corpus.sh)
mkdir -p "$tmp/gsrc"
cp "$DATA/gguf/tiny-llama-smollm.gguf" "$tmp/gsrc/m.gguf"
G="$tmp/gsrc/m.gguf"
gsum=$(sha256sum "$G")
expect "GGUF: dump-logits over the source file" 2 "m.gguf: is the source model file" \
    quantize --model "$G" --method rtn --dump-logits "$G"
expect "GGUF: dump-logits next to the source in its folder" 2 "gsrc/x.bin: lies inside the model folder" \
    quantize --model "$tmp/gsrc" --method rtn --dump-logits "$tmp/gsrc/x.bin"
expect "GGUF: export over the folder holding the source" 2 "the source model file $G lies inside this output folder" \
    quantize --model "$G" --method rtn --out "$tmp/gsrc" --force
expect "GGUF: export over the source file itself" 2 "m.gguf: the output folder is the source model file" \
    quantize --model "$G" --method rtn --out "$G" --force
[ "$(sha256sum "$G")" = "$gsum" ] && [ "$(ls "$tmp/gsrc")" = "m.gguf" ] && ok "GGUF: source unchanged, nothing written beside it" ||
    fail "GGUF: the source folder changed: $(ls "$tmp/gsrc")"
mkfifo "$tmp/pipe.gguf"
expect "GGUF: a named pipe as --model" 2 "pipe.gguf: is a named pipe (FIFO)" check --model "$tmp/pipe.gguf"
mkdir -p "$tmp/gfifo" && mkfifo "$tmp/gfifo/model.gguf"
expect "GGUF: a named pipe in the model folder" 2 "gfifo/model.gguf: is a named pipe (FIFO)" ppl --model "$tmp/gfifo" "${PPL[@]}"
# 1 GiB files (holes after the header; mapped within the address-space limit) claiming counts
# the bytes-left test allows: reserving room for them was std::bad_alloc
printf 'GGUF\x03\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\xf0\xfa\x02\x00\x00\x00\x00' >"$tmp/kv.gguf"
truncate -s 1G "$tmp/kv.gguf"
expect "GGUF: 50,000,000 metadata entries in 1 GiB" 2 "kv.gguf: claims 50000000 metadata entries; QuantScope reads at most 65536" \
    info --model "$tmp/kv.gguf"
printf 'GGUF\x03\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00' >"$tmp/arr.gguf"
printf '\x15\x00\x00\x00\x00\x00\x00\x00tokenizer.ggml.tokens\x09\x00\x00\x00\x08\x00\x00\x00\x00\x00\x00\x04\x00\x00\x00\x00' >>"$tmp/arr.gguf"
truncate -s 1G "$tmp/arr.gguf"
expect "GGUF: an array of 2^26 strings in 1 GiB" 2 "arr.gguf: metadata 'tokenizer.ggml.tokens' claims 67108864 elements; QuantScope reads at most 8388608 array elements in all" \
    ppl --model "$tmp/arr.gguf" "${PPL[@]}"
head -c 100000 "$G" >"$tmp/cut.gguf"
expect "GGUF: a truncated file" 2 "cut.gguf: tensor '" ppl --model "$tmp/cut.gguf" "${PPL[@]}"
rm -f "$tmp/kv.gguf" "$tmp/arr.gguf"

# ---------------------------------------------------------------- afterwards
after=$(sums)
[ "$before" = "$after" ] && ok "source model unchanged (sha256 of every file)" || fail "the source model changed"
left=$(find "$tmp" -name '*.tmp-*' -o -name '*.old-*' | head -5)
[ -z "$left" ] && ok "no temporaries left" || fail "temporaries left: $left"

echo "$passes passed, $fails failed"
[ $fails -eq 0 ]
