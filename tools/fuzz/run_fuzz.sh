#!/usr/bin/env bash
# Builds the libFuzzer target for the safetensors header parser with clang++
# (-fsanitize=fuzzer,address) and runs it for a bounded time.
#
#   tools/fuzz/run_fuzz.sh [SECONDS]     build, then fuzz for SECONDS (default 60)
#   tools/fuzz/run_fuzz.sh --build-only  build only (used by tools/fuzz/CMakeLists.txt)
#
# The main build uses g++; this script compiles engine/io/safetensors.cpp,
# engine/io/mapped_file.cpp and the fuzz target directly with clang++ against the
# libtorch headers and libraries. The seed corpus is every .safetensors file of the broken
# corpus (tests/data/broken, tools/make_broken_corpus.py). Exits non-zero if the fuzzer
# finds a crash (the input is saved under $BUILD/artifacts/ as crash-*).
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
case "${1:-}" in
    --build-only) build_only=1 ;;
    "") ;;
    *[!0-9]*) echo "usage: $0 [SECONDS | --build-only]" >&2; exit 2 ;;
    *) seconds=$1 ;;
esac

command -v "$CLANGXX" >/dev/null || { echo "run_fuzz.sh: $CLANGXX not found (apt-get install clang libclang-rt-14-dev)" >&2; exit 2; }
mkdir -p "$BUILD/obj" "$BUILD/corpus" "$BUILD/artifacts"

# Coverage instrumentation for the code under test (fuzzer-no-link), the libFuzzer main for the target.
CXXFLAGS=(-std=c++17 -O1 -g -fno-omit-frame-pointer -D_GLIBCXX_USE_CXX11_ABI=1 -I"$REPO/engine")
# (-isystem /usr/include would break libstdc++'s #include_next <stdlib.h>.)
[ "$TORCH_INCLUDE" != /usr/include ] && CXXFLAGS+=(-isystem "$TORCH_INCLUDE")
CXXFLAGS+=(-isystem "$TORCH_INCLUDE/torch/csrc/api/include")
compile() {  # compile SRC OBJ SANITIZE
    local src=$1 obj=$2 san=$3
    if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ "$REPO/engine/io/safetensors.h" -nt "$obj" ] ||
       [ "$REPO/engine/io/mapped_file.h" -nt "$obj" ] || [ "$REPO/engine/core/error.h" -nt "$obj" ]; then
        echo "run_fuzz.sh: compiling $(basename "$src")"
        "$CLANGXX" "${CXXFLAGS[@]}" -fsanitize="$san" -c "$src" -o "$obj"
    fi
}
compile "$REPO/engine/io/safetensors.cpp" "$BUILD/obj/safetensors.o" fuzzer-no-link,address
compile "$REPO/engine/io/mapped_file.cpp" "$BUILD/obj/mapped_file.o" fuzzer-no-link,address
compile "$HERE/fuzz_safetensors_header.cpp" "$BUILD/obj/fuzz_safetensors_header.o" fuzzer,address
BIN=$BUILD/fuzz_safetensors_header
if [ ! -x "$BIN" ] || [ -n "$(find "$BUILD/obj" -name '*.o' -newer "$BIN")" ]; then
    echo "run_fuzz.sh: linking $BIN"
    "$CLANGXX" -fsanitize=fuzzer,address "$BUILD/obj/fuzz_safetensors_header.o" "$BUILD/obj/safetensors.o" \
        "$BUILD/obj/mapped_file.o" -L"$TORCH_LIBDIR" -Wl,-rpath,"$TORCH_LIBDIR" -ltorch_cpu -lc10 -o "$BIN"
fi
[ "$build_only" -eq 1 ] && exit 0

# Seed corpus: the broken corpus' weight files (valid and broken headers alike).
nseeds=0
while IFS= read -r -d '' f; do
    rel=${f#"$REPO/tests/data/broken/"}
    cp "$f" "$BUILD/corpus/seed-${rel//\//_}"
    nseeds=$((nseeds + 1))
done < <(find "$REPO/tests/data/broken" -type f -name '*.safetensors' -print0)
echo "run_fuzz.sh: $nseeds seed files; fuzzing for ${seconds}s (corpus $BUILD/corpus)"

# detect_leaks=0: libtorch's static initialisers allocate memory it never frees.
set +e
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0} "$BIN" "$BUILD/corpus" \
    -dict="$HERE/safetensors.dict" -max_total_time="$seconds" -max_len=16384 -timeout=10 -rss_limit_mb=4096 \
    -artifact_prefix="$BUILD/artifacts/" -print_final_stats=1 2>&1 | tee "$BUILD/last_run.log"
rc=${PIPESTATUS[0]}
set -e
if [ "$rc" -ne 0 ]; then
    echo "run_fuzz.sh: FAILED (exit $rc); crash inputs: $(ls "$BUILD/artifacts" 2>/dev/null | tr '\n' ' ')" >&2
    exit 1
fi
echo "run_fuzz.sh: no crash in ${seconds}s"
