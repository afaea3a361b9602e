#!/usr/bin/env bash
# Formats every tracked C++ file with the repository's .clang-format (clang-format 14, Debian 12).
#   tools/format.sh           rewrite in place
#   tools/format.sh --check   list the files that differ, exit 1 if any (CTest: format_check)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
CF=${CLANG_FORMAT:-clang-format}
command -v "$CF" >/dev/null || { echo "format.sh: $CF not found (apt-get install clang-format)" >&2; exit 2; }
mapfile -t files < <(git ls-files '*.cpp' '*.h' 2>/dev/null || find engine app ui widgets tests tools -name '*.cpp' -o -name '*.h')
if [[ "${1:-}" == "--check" ]]; then
    bad=0
    for f in "${files[@]}"; do
        if ! "$CF" --dry-run -Werror "$f" >/dev/null 2>&1; then echo "not formatted: $f"; bad=1; fi
    done
    [[ $bad == 0 ]] && echo "format.sh: ${#files[@]} files formatted"
    exit $bad
fi
"$CF" -i "${files[@]}"
