#!/usr/bin/env bash
# Install test: build the Debian package, unpack it into a temporary root (dpkg -x), and run
# the installed binaries from another directory — info, a 2-window perplexity on the bundled
# model, and an offscreen screenshot — then move the root elsewhere and run again
# (resources are found relative to the executables, never through the CWD or build paths).
#   install_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build="$1"
src="$2"
tmp="$(mktemp -d /tmp/qs_install_XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "install test FAILED: $*" >&2; exit 1; }

(cd "$build" && cpack -G DEB -B "$tmp/pkg" >"$tmp/cpack.log" 2>&1) || { cat "$tmp/cpack.log"; fail "cpack"; }
deb=$(ls "$tmp"/pkg/quantscope_*.deb 2>/dev/null | head -1)
[ -n "$deb" ] || fail "no .deb produced"
echo "package: $(basename "$deb") ($(stat -c %s "$deb") bytes)"
depends=$(dpkg-deb -f "$deb" Depends)
echo "Depends: $depends"
for need in libtorch libqt6widgets6 libqcustomplot libopenblas0-openmp libzstd libsentencepiece qt6-qpa-plugins; do
  grep -q -- "$need" <<<"$depends" || fail "Depends lacks $need"
done
contents=$(dpkg-deb -c "$deb")
for f in ./usr/bin/quantscope ./usr/bin/quantscope-cli ./usr/share/applications/quantscope.desktop \
         ./usr/share/icons/hicolor/scalable/apps/quantscope.svg ./usr/share/icons/hicolor/48x48/apps/quantscope.png \
         ./usr/share/quantscope/models/TinyStories-656K/model.safetensors \
         ./usr/share/quantscope/models/TinyStories-656K/PROVENANCE.md \
         ./usr/share/quantscope/data/wikitext-2-raw-v1/wiki.test.raw.zst \
         ./usr/share/quantscope/data/calibration/tinyshakespeare.txt.zst ./usr/share/quantscope/LICENSES.md; do
  grep -q -- " $f\$" <<<"$contents" || fail "package lacks $f"
done

run_installed() {
  local root="$1"
  local cwd="$tmp/elsewhere"
  mkdir -p "$cwd"
  cd "$cwd"
  version=$("$root/usr/bin/quantscope-cli" --version) || fail "cli --version"
  grep -q "libtorch" <<<"$version" || fail "cli --version: $version"
  version=$("$root/usr/bin/quantscope" --version) || fail "gui --version"
  grep -q "libtorch" <<<"$version" || fail "gui --version: $version"
  info=$("$root/usr/bin/quantscope-cli" info --json) || fail "info"
  grep -q '"parameters": 656000' <<<"$info" || fail "info does not report 656000 parameters: $info"
  grep -q "\"model\": \"$root/usr/bin/../share/quantscope" <<<"$info" || grep -q "\"model\": \"$root/usr/share/quantscope" <<<"$info" \
    || fail "info read a model outside the installed root: $(echo "$info" | grep '"model"')"
  ppl=$("$root/usr/bin/quantscope-cli" ppl --nsamples 2 --json 2>/dev/null) || fail "ppl"
  grep -q '"nsamples":2' <<<"$ppl" || fail "ppl output: $ppl"
  echo "installed ppl (2 windows): $(echo "$ppl" | sed 's/.*"ppl":\([0-9.]*\).*/\1/')"
  QT_QPA_PLATFORM=offscreen "$root/usr/bin/quantscope" --screenshot "$cwd/shot.png" >/dev/null || fail "screenshot"
  [ "$(head -c 4 "$cwd/shot.png" | od -An -tx1 | tr -d ' \n')" = "89504e47" ] || fail "screenshot is not a PNG"
  cd /
}

mkdir -p "$tmp/root"
dpkg -x "$deb" "$tmp/root"
run_installed "$tmp/root"
mv "$tmp/root" "$tmp/relocated"
run_installed "$tmp/relocated"
echo "install test passed"
