#!/bin/bash
# Fail when a C file of the repository drifts from .clang-format (fix it
# with `make format`). Checks the files git knows plus new ones under lib/,
# src/ and tests/, so a file not yet added is checked too.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null ||
  { echo "clang-format missing: apt-get install clang-format" >&2; exit 1; }
mapfile -t files < <({ git ls-files '*.c' '*.h' 2>/dev/null;
  find lib src tests include -name '*.c' -o -name '*.h'; } | sort -u)
[ "${#files[@]}" -gt 0 ] || { echo "no C files found" >&2; exit 1; }
if clang-format --dry-run -Werror "${files[@]}"; then
  echo "ok - ${#files[@]} C files match .clang-format"
else
  echo "not ok - run 'make format'" >&2
  exit 1
fi
