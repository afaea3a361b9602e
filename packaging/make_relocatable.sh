#!/usr/bin/env bash
# Relocatable archive of the GPU variant (a build made with packaging/setup-debian.sh --libtorch pip
# or -DQS_TORCH_ROOT): the CMake install tree plus the libtorch and CUDA libraries it needs, in
# its own lib folder, so it runs from wherever it is unpacked, with or without an NVIDIA GPU:
#
#   quantscope-<version>-linux-<arch>-libtorch<version>[-cuda<version>]/
#     bin/quantscope-cli, bin/quantscope (when the GUI was built)   RUNPATH $ORIGIN/../lib/quantscope{,/torch/lib}
#     lib/quantscope/libquantscope_spm.so
#     lib/quantscope/torch/lib/...      libtorch, libtorch_cpu, libc10 (+ _cuda, libtorch_cuda_linalg, ...)
#     lib/quantscope/nvidia/*/lib/...   the CUDA libraries, at the same place relative to torch/lib as
#                                       in the wheel's site-packages, so the libraries' own RUNPATH
#                                       ($ORIGIN/../../nvidia/...) finds them unchanged
#     share/quantscope/...              bundled model and data
#
# Which libraries: everything the binaries load (ldd) from the wheel's site-packages, plus the
# ones libtorch opens only when needed (dlopen): libtorch_cuda_linalg, nvrtc, cuDNN's sub-libraries.
# Debian libraries stay dependencies: libzstd1, libonig5, libutf8proc2, libyaml-cpp0.7, libsentencepiece0 (the shim),
# and for the GUI Qt 6 + QCustomPlot (the packages packaging/setup-debian.sh installs).
#
#   packaging/make_relocatable.sh [BUILD_DIR] [OUT_DIR] [ZSTD_LEVEL]
#       BUILD_DIR default <repo>/build-pip; OUT_DIR default BUILD_DIR; ZSTD_LEVEL default 10
# Prints the archive's path on the last line.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$(cd "${1:-$root/build-pip}" && pwd)"
outdir="${2:-$build}"
level="${3:-10}"
fail() { echo "make_relocatable.sh: $*" >&2; exit 1; }

torch_root=$(sed -n 's/^QS_TORCH_ROOT:PATH=//p' "$build/CMakeCache.txt")
[ -n "$torch_root" ] || fail "$build is not a pip/LibTorch build (no QS_TORCH_ROOT): Debian's build has the .deb instead"
site="$(dirname "$torch_root")"
targets=(quantscope-cli quantscope_spm quantscope_resources)
grep -q '^QS_BUILD_GUI:BOOL=ON' "$build/CMakeCache.txt" && targets+=(quantscope)
cmake --build "$build" --target "${targets[@]}" > /dev/null

version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")
torch_line=$("$build/bin/quantscope-cli" --version | sed -n 2p)    # libtorch 2.11.0 (devices: ...)
cuda_line=$("$build/bin/quantscope-cli" --version | grep '^cuda:')  # cuda: compiled in (CUDA 13.0), ...
name="quantscope-$version-linux-$(uname -m)-libtorch$(echo "$torch_line" | awk '{ print $2 }')"
cuda=$(echo "$cuda_line" | sed -n 's/^cuda: compiled in (CUDA \([0-9.]*\)).*/\1/p')
[ -n "$cuda" ] && name="$name-cuda$cuda"

work="$(mktemp -d /tmp/qs_reloc_XXXXXX)"
trap 'rm -rf "$work"' EXIT
stage="$work/$name"
cmake --install "$build" --prefix "$stage" > "$work/install.log" || { cat "$work/install.log"; fail "cmake --install"; }
libdir="$stage/lib/quantscope"
[ -f "$libdir/libquantscope_spm.so" ] || fail "the install tree has no lib/quantscope/libquantscope_spm.so"

# what to carry: the ldd closure of the binaries and of the dlopen()ed extras, from site-packages
extras=()
for f in "$torch_root"/lib/libtorch_cuda_linalg.so "$torch_root"/lib/libcaffe2_nvrtc.so \
         "$site"/nvidia/cu*/lib/libnvrtc.so.* "$site"/nvidia/cu*/lib/libnvrtc-builtins.so.* \
         "$site"/nvidia/cudnn/lib/libcudnn*.so.*; do
  [ -f "$f" ] && extras+=("$f")
done
# (ldd of the build tree's binaries: their RUNPATH points at the wheel; the staged ones' does
# not resolve yet and would find Debian's libtorch)
scan=("${extras[@]}")
for f in "$stage"/bin/*; do scan+=("$build/bin/$(basename "$f")"); done
{
  for f in "${scan[@]}"; do
    ldd "$f" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }'
  done
  printf '%s\n' "${extras[@]}"
} | sort -u | while read -r path; do
  real=$(realpath "$path")
  case "$real" in "$site"/*) ;; *) continue ;; esac
  rel="${real#"$site"/}"
  mkdir -p "$libdir/$(dirname "$rel")"
  # under the name the loader asks for (a symlink's name, e.g. libcudnn.so.9)
  cp "$real" "$libdir/$(dirname "$rel")/$(basename "$path")"
done
[ -f "$libdir/torch/lib/libtorch_cpu.so" ] || fail "libtorch was not copied (is $site the wheel's site-packages?)"

cat > "$stage/README-archive.txt" <<EOF
QuantScope $version, GPU variant ($torch_line; $cuda_line as built).
Unpack anywhere and run bin/quantscope-cli (bin/quantscope: the workbench). libtorch and the CUDA
libraries are in lib/quantscope; the binaries find them and their resources relative to themselves.
On a machine without an NVIDIA driver it runs on the CPU (quantscope-cli --version says why).
Needs Debian 12 (or newer) libraries: libzstd1, libonig5, libutf8proc2, libyaml-cpp0.7, libsentencepiece0, and for the GUI Qt 6 and
QCustomPlot (qt6-base, libqt6svg6, qt6-qpa-plugins, libqcustomplot2.1-qt6).
EOF

mkdir -p "$outdir"
out="$outdir/$name.tar.zst"
tar -C "$work" -cf - "$name" | zstd -q -T0 "-$level" -o "$out.tmp" -f
mv "$out.tmp" "$out"
echo "archive: $(du -sb "$stage" | cut -f1) bytes unpacked, $(stat -c %s "$out") bytes compressed (zstd -$level)"
echo "$out"
