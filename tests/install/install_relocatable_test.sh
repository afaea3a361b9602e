#!/usr/bin/env bash
# Install test of the GPU variant's relocatable archive (packaging/make_relocatable.sh): build it,
# unpack it into a temporary folder, check that libtorch and the CUDA libraries load from the
# archive's own lib folder (not from the build's virtual environment), run `quantscope-cli
# --version` and a 1-window perplexity on the CPU from another directory, then move the folder
# and run again.
#   install_relocatable_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build="$1"
src="$2"
tmp="$(mktemp -d /tmp/qs_reloc_test_XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "relocatable install test FAILED: $*" >&2; exit 1; }

# zstd -1: the test checks the archive's content, not its compression
archive=$("$src/packaging/make_relocatable.sh" "$build" "$tmp/out" 1 | tee "$tmp/make.log" | tail -1)
cat "$tmp/make.log"
[ -f "$archive" ] || fail "no archive"
mkdir -p "$tmp/a"
tar -C "$tmp/a" --zstd -xf "$archive"
name=$(basename "$archive" .tar.zst)
[ -x "$tmp/a/$name/bin/quantscope-cli" ] || fail "archive lacks $name/bin/quantscope-cli"

run_unpacked() {
  local home="$1"
  mkdir -p "$tmp/elsewhere"
  cd "$tmp/elsewhere"
  local deps raw
  raw=$(env -u LD_LIBRARY_PATH ldd "$home/bin/quantscope-cli")
  grep -q "not found" <<<"$raw" && fail "unresolved libraries: $(echo "$raw" | grep 'not found')"
  # "name real-path" per library
  deps=$(echo "$raw" | awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }' | while read -r n p; do echo "$n $(realpath "$p")"; done)
  for lib in libtorch.so libtorch_cpu.so libc10.so; do
    grep -qx "$lib $home/lib/quantscope/torch/lib/$lib" <<<"$deps" || fail "$lib not loaded from the archive: $(echo "$deps" | grep "^$lib ")"
  done
  if grep -q "^libtorch_cuda.so " <<<"$deps"; then
    outside=$(echo "$deps" | grep -E "^(libcudart|libcublas|libcublasLt|libcudnn|libnccl)\.so" | grep -v " $home/lib/quantscope/" || true)
    [ -z "$outside" ] || fail "CUDA libraries from outside the archive: $outside"
    echo "CUDA libraries from the archive: $(echo "$deps" | grep -c " $home/lib/quantscope/nvidia/")"
  fi
  local v
  v=$(env -u LD_LIBRARY_PATH "$home/bin/quantscope-cli" --version) || fail "--version"
  echo "$v"
  grep -q "^libtorch 2\." <<<"$v" || fail "--version does not name libtorch 2.x"
  grep -q "^cuda: " <<<"$v" || fail "--version does not say whether CUDA is usable"
  local ppl
  ppl=$(env -u LD_LIBRARY_PATH "$home/bin/quantscope-cli" ppl --nsamples 1 --device cpu --json 2>/dev/null) || fail "ppl"
  grep -q '"nsamples": *1' <<<"$ppl" || fail "ppl output: $ppl"
  grep -q "\"model\": *\"$home/bin/../share/quantscope" <<<"$ppl" || grep -q "\"model\": *\"$home/share/quantscope" <<<"$ppl" \
    || fail "ppl read a model outside the unpacked archive: $(echo "$ppl" | grep -o '"model": *"[^"]*"')"
  echo "unpacked ppl (1 window, cpu): $(echo "$ppl" | grep -o '"ppl": *[0-9.]*')"
  cd /
}

run_unpacked "$tmp/a/$name"
mv "$tmp/a/$name" "$tmp/moved"
run_unpacked "$tmp/moved"
echo "relocatable install test passed"
