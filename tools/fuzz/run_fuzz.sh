#!/usr/bin/env bash
# Builds a libFuzzer target with clang++ (-fsanitize=fuzzer,address) and runs it for a
# bounded time. Targets:
#   safetensors_header  qs::parse_safetensors_header; seeds: every .safetensors file of the
#                       broken corpus (tests/data/broken, tools/make_broken_corpus.py)
#   gguf_header         qs::parse_gguf_header + the ggml dequantizers; seeds: the small GGUF
#                       fixtures of tests/data/gguf
#
#   tools/fuzz/run_fuzz.sh [TARGET] [SECONDS]     build, then fuzz for SECONDS (default 60);
#                                                 TARGET defaults to safetensors_header
#   tools/fuzz/run_fuzz.sh [TARGET] --build-only  build only (used by tools/fuzz/CMakeLists.txt)
#
# The main build uses g++; this script compiles the parser sources and the fuzz target
# directly with clang++ against the libtorch headers and libraries. Exits non-zero if the
# fuzzer finds a crash (the input is saved under $BUILD/artifacts/ as crash-*).
#
# Environment: CLANGXX (default clang++), QS_FUZZ_BUILD (default <repo>/build-fuzz),
# TORCH_INCLUDE / TORCH_LIBDIR (default: Debian's libtorch-dev layout).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BUILD=${QS_FUZZ_BUILD:-$REPO/build-fuzz}
CLANGXX=${CLANGXX:-clang++}
TORCH_INCLUDE=${TORCH_INCLUDE:-/usr/include}
TORCH_LIBDIR=${TORCH_LIBDIR:-/usr/lib/x86_64-linux-gnu}

build_only=0
seconds=60
target=safetensors_header
case "${1:-}" in
    safetensors_header|gguf_header) target=$1; shift ;;
esac
case "${1:-}" in
    --build-only) build_only=1 ;;
    "") ;;
    *[!0-9]*) echo "usage: $0 [safetensors_header|gguf_header] [SECONDS | --build-only]" >&2; exit 2 ;;
    *) seconds=$1 ;;
esac

command -v "$CLANGXX" >/dev/null || { echo "run_fuzz.sh: $CLANGXX not found (apt-get install clang libclang-rt-14-dev)" >&2; exit 2; }
case $target in
    safetensors_header) SOURCES=(safetensors mapped_file); MAX_LEN=16384 ;;
    gguf_header) SOURCES=(gguf gguf_dequant mapped_file); MAX_LEN=65536 ;;
esac
CORPUS=$BUILD/corpus-$target
mkdir -p "$BUILD/obj" "$CORPUS" "$BUILD/artifacts"

# Coverage instrumentation for the code under test (fuzzer-no-link), the libFuzzer main for the target.
# -ffp-contract=off as engine/CMakeLists.txt sets it for gguf_dequant.cpp (bit-exact dequantization).
CXXFLAGS=(-std=c++17 -O1 -g -fno-omit-frame-pointer -ffp-contract=off -D_GLIBCXX_USE_CXX11_ABI=1 -I"$REPO/engine")
# (-isystem /usr/include would break libstdc++'s #include_next <stdlib.h>.)
[ "$TORCH_INCLUDE" != /usr/include ] && CXXFLAGS+=(-isystem "$TORCH_INCLUDE")
CXXFLAGS+=(-isystem "$TORCH_INCLUDE/torch/csrc/api/include")
compile() {  # compile SRC OBJ SANITIZE
    local src=$1 obj=$2 san=$3
    if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] ||
       [ -n "$(find "$REPO/engine/io" "$REPO/engine/core/error.h" -name '*.h' -newer "$obj")" ]; then
        echo "run_fuzz.sh: compiling $(basename "$src")"
        "$CLANGXX" "${CXXFLAGS[@]}" -fsanitize="$san" -c "$src" -o "$obj"
    fi
}
OBJS=()
for s in "${SOURCES[@]}"; do
    compile "$REPO/engine/io/$s.cpp" "$BUILD/obj/$s.o" fuzzer-no-link,address
    OBJS+=("$BUILD/obj/$s.o")
done
compile "$HERE/fuzz_$target.cpp" "$BUILD/obj/fuzz_$target.o" fuzzer,address
BIN=$BUILD/fuzz_$target
if [ ! -x "$BIN" ] || [ -n "$(find "$BUILD/obj" -name '*.o' -newer "$BIN")" ]; then
    echo "run_fuzz.sh: linking $BIN"
    "$CLANGXX" -fsanitize=fuzzer,address "$BUILD/obj/fuzz_$target.o" "${OBJS[@]}" \
        -L"$TORCH_LIBDIR" -Wl,-rpath,"$TORCH_LIBDIR" -ltorch_cpu -lc10 -o "$BIN"
fi
[ "$build_only" -eq 1 ] && exit 0

# Seed corpus: valid and broken files alike.
if [ "$target" = safetensors_header ]; then
    seed_dir=$REPO/tests/data/broken; seed_find=(-type f -name '*.safetensors')
else
    seed_dir=$REPO/tests/data/gguf; seed_find=(-maxdepth 1 -type f -name '*.gguf' -size -200k)
fi
nseeds=0
while IFS= read -r -d '' f; do
    rel=${f#"$seed_dir/"}
    cp "$f" "$CORPUS/seed-${rel//\//_}"
    nseeds=$((nseeds + 1))
done < <(find "$seed_dir" "${seed_find[@]}" -print0)
echo "run_fuzz.sh: $nseeds seed files; fuzzing $target for ${seconds}s (corpus $CORPUS)"

# detect_leaks=0: libtorch's static initialisers allocate memory it never frees.
set +e
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0} "$BIN" "$CORPUS" \
    -dict="$HERE/${target%_header}.dict" -max_total_time="$seconds" -max_len=$MAX_LEN -timeout=10 -rss_limit_mb=4096 \
    -artifact_prefix="$BUILD/artifacts/" -print_final_stats=1 2>&1 | tee "$BUILD/last_run.log"
rc=${PIPESTATUS[0]}
set -e
if [ "$rc" -ne 0 ]; then
    echo "run_fuzz.sh: FAILED (exit $rc); crash inputs: $(ls "$BUILD/artifacts" 2>/dev/null | tr '\n' ' ')" >&2
    exit 1
fi
echo "run_fuzz.sh: no crash in ${seconds}s"
