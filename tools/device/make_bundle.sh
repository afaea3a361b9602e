#!/usr/bin/env bash
# Packs what tools/gpu_check.sh needs to run on another machine (the lent GPU machine: no Qt, no
# sentencepiece, no compiler time) into ONE archive, default <repo>/.devcarry/bundle.tar.xz:
#
#   quantscope-bundle/bin/      quantscope-cli, quantscope_engine_tests, quantscope_gui_bench (if built),
#                               stripped, RUNPATH $ORIGIN/../lib
#   quantscope-bundle/lib/      the sentencepiece shim (libquantscope_spm.so) and every shared library
#                               those binaries, the shim and the Qt platform plugin need, except
#                               libtorch + the CUDA libraries (the target's own torch/lib provides
#                               them: same torch==2.11.0) and glibc / libstdc++ / libgcc_s
#   quantscope-bundle/plugins/platforms/libqoffscreen.so, fonts/ (DejaVu Sans + fonts.conf)
#   quantscope-bundle/share/quantscope/   the bundled model and data (found next to bin/)
#   quantscope-bundle/MANIFEST  what was built from where, and every file with its size
#
#   tools/device/make_bundle.sh [BUILD_DIR] [OUT]      (BUILD_DIR default <repo>/build-pip)
#
# On the target: tools/gpu_check.sh --bundle OUT --device cuda (it sets LD_LIBRARY_PATH to the
# bundle's lib/ + the target's torch/lib, QT_PLUGIN_PATH and FONTCONFIG_FILE).
# .devcarry/ is not part of the repository (list it in .git/info/exclude).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="$(cd "${1:-$root/build-pip}" && pwd)"
out="${2:-$root/.devcarry/bundle.tar.xz}"
fail() { echo "make_bundle.sh: $*" >&2; exit 1; }

torch_root=$(sed -n 's/^QS_TORCH_ROOT:PATH=//p' "$build/CMakeCache.txt")
[ -n "$torch_root" ] || fail "$build is not a pip/LibTorch build (no QS_TORCH_ROOT in its CMakeCache.txt)"
# libtorch and the CUDA libraries stay out: everything under the wheel's site-packages (or the
# LibTorch archive's folder)
provided="$(dirname "$torch_root")"
glibc='^(libc|libm|libdl|libpthread|librt|libutil|libresolv|libanl|libnsl|libBrokenLocale|ld-linux-x86-64|libstdc\+\+|libgcc_s)\.so'

work="$(mktemp -d /tmp/qs_bundle_XXXXXX)"
trap 'rm -rf "$work"' EXIT
stage="$work/quantscope-bundle"
mkdir -p "$stage/bin" "$stage/lib" "$stage/plugins/platforms" "$stage/share" "$stage/fonts"

# RUNPATH editing without patchelf: CMake rewrites it in place (the new one is shorter)
cat > "$work/set_rpath.cmake" <<'CMAKE'
file(RPATH_SET FILE "${F}" NEW_RPATH "$ORIGIN/../lib")
CMAKE
bins=(quantscope-cli quantscope_engine_tests)
[ -x "$build/bin/quantscope_gui_bench" ] && bins+=(quantscope_gui_bench)
for b in "${bins[@]}"; do
  [ -x "$build/bin/$b" ] || fail "$build/bin/$b is missing: cmake --build $build --target $b"
  cp "$build/bin/$b" "$stage/bin/"
  strip --strip-unneeded "$stage/bin/$b"
  # the build tree's RUNPATH (venv torch/lib, build/lib) must not leak to the target
  cmake -DF="$stage/bin/$b" -P "$work/set_rpath.cmake"
done
cp "$build/lib/libquantscope_spm.so" "$stage/lib/"
strip --strip-unneeded "$stage/lib/libquantscope_spm.so"
cp -r "$build/share/quantscope" "$stage/share/"
scan=("$build/lib/libquantscope_spm.so")
for b in "${bins[@]}"; do scan+=("$build/bin/$b"); done
if [[ " ${bins[*]} " == *" quantscope_gui_bench "* ]]; then
  plugdir=$(qtpaths6 --query QT_INSTALL_PLUGINS 2>/dev/null || echo /usr/lib/x86_64-linux-gnu/qt6/plugins)
  cp "$plugdir/platforms/libqoffscreen.so" "$stage/plugins/platforms/"
  scan+=("$plugdir/platforms/libqoffscreen.so")
  font=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
  [ -f "$font" ] || fail "$font is missing (apt-get install fonts-dejavu-core)"
  cp "$font" "$stage/fonts/"
  cat > "$stage/fonts/fonts.conf" <<'XML'
<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "fonts.dtd">
<!-- fontconfig for the bundle: its own font folder, a cache in /tmp (the target may have no fonts) -->
<fontconfig>
  <dir prefix="relative">.</dir>
  <cachedir>/tmp/quantscope-bundle-fontconfig</cachedir>
</fontconfig>
XML
fi

# every library ldd resolves for the scanned files (ldd lists dependencies transitively)
for f in "${scan[@]}"; do
  ldd "$f" | awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }'
done | sort -u > "$work/deps.txt"
missing_libs=$(ldd "${scan[@]}" 2>&1 | grep "not found" || true)  # no grep -q on a pipe under pipefail (SIGPIPE)
if [ -n "$missing_libs" ]; then
  echo "$missing_libs" >&2
  fail "some libraries are not found here"
fi
# a name libtorch brings (e.g. libgomp.so.1, which Qt's offscreen plugin resolves from /usr/lib
# here) must come from the target's torch/lib too: a bundled copy would shadow it there
awk -v p="$provided/" 'index($2, p) == 1 { print $1 }' "$work/deps.txt" | sort -u > "$work/provided.txt"
n=0
while read -r name path; do
  [[ "$path" == "$provided"/* ]] && continue
  [[ "$name" =~ $glibc ]] && continue
  grep -qxF "$name" "$work/provided.txt" && continue
  cp -L "$path" "$stage/lib/$name"
  n=$((n + 1))
done < "$work/deps.txt"

{
  echo "QuantScope device bundle (tools/device/make_bundle.sh)"
  echo "made: $(date -u '+%Y-%m-%d %H:%M UTC') on $(hostname), $(. /etc/os-release && echo "$PRETTY_NAME")"
  echo "built_from: $build"
  echo "source: $(git -C "$root" rev-parse --short HEAD 2>/dev/null)$(git -C "$root" diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')"
  echo "libtorch at build time: $torch_root (not bundled; use the same torch version's torch/lib)"
  echo "binaries: ${bins[*]}"
  echo "bundled libraries: $n (+ libquantscope_spm.so); newest glibc symbol needed: $(
    objdump -T "$stage"/bin/* "$stage"/lib/* "$stage"/plugins/platforms/* 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)"
  echo "$("$build/bin/quantscope-cli" --version | sed -n 2,3p | tr '\n' ';')"
  echo
  (cd "$stage" && find . -type f -printf '%9s %p\n' | sort -k2)
} > "$stage/MANIFEST"

mkdir -p "$(dirname "$out")"
tar -C "$work" -cf - quantscope-bundle | xz -T2 -9 > "$out.tmp"
mv "$out.tmp" "$out"
echo "bundle: $out ($(stat -c %s "$out") bytes; $(du -sb "$stage" | cut -f1) bytes unpacked; $n libraries)"
