#!/usr/bin/env bash
# libFuzzer targets for the files QuantScope reads, built with clang++ (-fsanitize=fuzzer,address)
# and run one after the other for a bounded time each:
#
#   safetensors_header  qs::parse_safetensors_header        seeds: tests/data/broken/**/*.safetensors
#   gguf_header         qs::parse_gguf_header + the ggml dequantizers on every small tensor
#                                                            seeds: tests/data/gguf/*.gguf (< 200 KB),
#                                                            tests/data/broken/**/*.gguf
#   config_json         config.json -> qs::parse_model_config seeds: tools/fuzz/seeds/config_json
#   tokenizer_json      tokenizer.json (+ tokenizer_config.json) -> qs::load_tokenizer, encode, decode
#                                                            seeds: tools/fuzz/seeds/tokenizer_json
#   workspace           .qscope -> qs::workspace_from_json, write/read round trip
#                                                            seeds: tools/fuzz/seeds/workspace
#
#   tools/fuzz/run_fuzz.sh                     build, then fuzz every target for 600 s (10 minutes)
#   tools/fuzz/run_fuzz.sh SECONDS [TARGET..]  fuzz the given targets (default: all) for SECONDS each
#   tools/fuzz/run_fuzz.sh --build-only [TARGET..]  build (used by tools/fuzz/CMakeLists.txt)
#
# A target passes when libFuzzer ends its time without a crash: a sanitizer report, an
# exception other than qs::Error, a broken guarantee (abort), a timeout (-timeout=10 s per
# input) or more than 2 GB of memory (-rss_limit_mb). The crashing input is saved as
# $BUILD/artifacts/<target>/crash-* and the script exits 1. The committed seeds are copied into
# a working corpus ($BUILD/corpus/<target>) that grows across runs.
#
# The main build uses g++; this script compiles the engine sources each target needs directly
# with clang++ against the libtorch headers and libraries (all but config_json link libtorch;
# tokenizer_json also links Oniguruma and utf8proc, libonig-dev libutf8proc-dev).
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
ALL_TARGETS=(safetensors_header gguf_header config_json tokenizer_json workspace)

build_only=0
seconds=600
targets=()
case "${1:-}" in
    --build-only) build_only=1; shift ;;
    "") ;;
    *[!0-9]*) echo "usage: $0 [SECONDS [TARGET...] | --build-only [TARGET...]]" >&2; exit 2 ;;
    *) seconds=$1; shift ;;
esac
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${ALL_TARGETS[@]}")
for t in "${targets[@]}"; do
    [[ " ${ALL_TARGETS[*]} " == *" $t "* ]] || { echo "run_fuzz.sh: unknown target '$t' (${ALL_TARGETS[*]})" >&2; exit 2; }
done

command -v "$CLANGXX" >/dev/null || { echo "run_fuzz.sh: $CLANGXX not found (apt-get install clang libclang-rt-14-dev)" >&2; exit 2; }
mkdir -p "$BUILD/obj"

E=$REPO/engine
IO_SOURCES=("$E/io/safetensors.cpp" "$E/io/mapped_file.cpp" "$E/io/map_guard.cpp" "$E/io/file_checks.cpp"
            "$E/io/safe_output.cpp")
sources_of() {  # the engine sources a target links
    case $1 in
        safetensors_header) echo "${IO_SOURCES[@]}" ;;
        gguf_header) echo "$E/io/gguf.cpp" "$E/io/gguf_dequant.cpp" "${IO_SOURCES[@]}" ;;
        config_json) echo "$E/models/model_config.cpp" "$E/io/file_checks.cpp" ;;
        tokenizer_json) echo "$E"/tokenizers/*.cpp "$E/core/resources.cpp" "$E/io/gguf.cpp" "$E/io/gguf_dequant.cpp" \
                             "${IO_SOURCES[@]}" ;;  # GGUF: a folder may hold its tokenizer in a .gguf
        workspace) echo "$E/export/workspace.cpp" "$E/quant/method_config.cpp" "$E/quant/linear_quant.cpp" \
                        "$E/io/checkpoint.cpp" "$E/core/device.cpp" "${IO_SOURCES[@]}" ;;  # device: div_exact
    esac
}
needs_torch() { [ "$1" != config_json ]; }

# Coverage instrumentation for the code under test (fuzzer-no-link), the libFuzzer main for the target.
# -ffp-contract=off as engine/CMakeLists.txt sets it for gguf_dequant.cpp (bit-exact dequantization).
CXXFLAGS=(-std=c++17 -Wall -Wextra -O1 -g -fno-omit-frame-pointer -ffp-contract=off -D_GLIBCXX_USE_CXX11_ABI=1 -I"$E" -I"$HERE")
# (-isystem /usr/include would break libstdc++'s #include_next <stdlib.h>.)
[ "$TORCH_INCLUDE" != /usr/include ] && CXXFLAGS+=(-isystem "$TORCH_INCLUDE")
CXXFLAGS+=(-isystem "$TORCH_INCLUDE/torch/csrc/api/include")
newest_header=$(find "$E" "$HERE" -name '*.h' -printf '%T@ %p\n' | sort -n | tail -1 | cut -d' ' -f2)
compile() {  # compile SRC OBJ SANITIZE
    local src=$1 obj=$2 san=$3
    if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ "$newest_header" -nt "$obj" ]; then
        echo "run_fuzz.sh: compiling ${src#"$REPO/"}"
        "$CLANGXX" "${CXXFLAGS[@]}" -fsanitize="$san" -c "$src" -o "$obj"
    fi
}
build_target() {  # build_target NAME: $BUILD/fuzz_NAME
    local t=$1 objs=() src obj
    for src in $(sources_of "$t"); do
        obj="$BUILD/obj/$(echo "${src#"$E/"}" | tr '/' '_' | sed 's/\.cpp$/.o/')"
        compile "$src" "$obj" fuzzer-no-link,address
        objs+=("$obj")
    done
    compile "$HERE/fuzz_$t.cpp" "$BUILD/obj/fuzz_$t.o" fuzzer,address
    objs+=("$BUILD/obj/fuzz_$t.o")
    local bin=$BUILD/fuzz_$t newer=0
    for obj in "${objs[@]}"; do [ "$obj" -nt "$bin" ] && newer=1; done
    if [ ! -x "$bin" ] || [ $newer -eq 1 ]; then
        echo "run_fuzz.sh: linking $bin"
        local libs=(-lzstd -ldl -lpthread)
        needs_torch "$t" && libs+=(-L"$TORCH_LIBDIR" -Wl,-rpath,"$TORCH_LIBDIR" -ltorch_cpu -lc10)
        [ "$t" = tokenizer_json ] && libs+=(-lonig -lutf8proc)  # Oniguruma regexes, utf8proc normalization
        "$CLANGXX" -fsanitize=fuzzer,address "${objs[@]}" "${libs[@]}" -o "$bin"
    fi
}

for t in "${targets[@]}"; do build_target "$t"; done
[ "$build_only" -eq 1 ] && exit 0

seed() {  # seed TARGET DIR: the committed seeds into the working corpus
    local t=$1 dir=$2 n=0 f
    mkdir -p "$dir"
    if [ "$t" = safetensors_header ] || [ "$t" = gguf_header ]; then
        local ext=${t%_header}
        while IFS= read -r -d '' f; do
            rel=${f#"$REPO/tests/data/"}
            cp "$f" "$dir/seed-${rel//\//_}"
            n=$((n + 1))
        done < <(find "$REPO/tests/data/broken" -type f -name "*.$ext" -print0
                 [ "$t" = gguf_header ] && find "$REPO/tests/data/gguf" -maxdepth 1 -type f -name '*.gguf' -size -200k -print0)
    else
        for f in "$HERE/seeds/$t"/*; do cp "$f" "$dir/seed-$(basename "$f")"; n=$((n + 1)); done
    fi
    echo "$n"
}

failed=()
for t in "${targets[@]}"; do
    corpus=$BUILD/corpus/$t
    artifacts=$BUILD/artifacts/$t/
    mkdir -p "$artifacts"
    n=$(seed "$t" "$corpus")
    dict=$HERE/json.dict
    max_len=65536
    [ "$t" = safetensors_header ] && dict=$HERE/safetensors.dict && max_len=16384
    [ "$t" = gguf_header ] && dict=$HERE/gguf.dict
    echo "run_fuzz.sh: $t: $n seed files; fuzzing for ${seconds}s (corpus $corpus)"
    # detect_leaks=0: libtorch's static initialisers allocate memory they never free.
    set +e
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0} "$BUILD/fuzz_$t" "$corpus" -dict="$dict" -max_total_time="$seconds" \
        -max_len=$max_len -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$artifacts" -print_final_stats=1 \
        >"$BUILD/last_run_$t.log" 2>&1
    rc=$?
    set -e
    grep -E "^stat::number_of_executed_units|^#[0-9]+.*DONE|cov:" "$BUILD/last_run_$t.log" | tail -2
    if [ "$rc" -ne 0 ]; then
        echo "run_fuzz.sh: $t FAILED (exit $rc); crash inputs: $(ls "$artifacts" 2>/dev/null | tr '\n' ' ') (log $BUILD/last_run_$t.log)" >&2
        failed+=("$t")
    else
        echo "run_fuzz.sh: $t: no crash in ${seconds}s"
    fi
done
[ ${#failed[@]} -eq 0 ] || { echo "run_fuzz.sh: failed: ${failed[*]}" >&2; exit 1; }
echo "run_fuzz.sh: ${targets[*]}: no crash, ${seconds}s each"
