#!/usr/bin/env bash
# Check the import contracts in pyproject.toml ([tool.importlinter]) and that no library module is
# part of an import cycle. import-linter reads a package's files from where Python finds it; the
# editable install maps four folders (archgen/, predictors/, datasets/, api/) into one namespace,
# which it cannot follow, so it runs on a non-editable build of the package in a temporary folder.
# Usage: tools/lint_imports.sh [python]  (default: .venv/bin/python)
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${1:-.venv/bin/python}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp" build' EXIT
"$PY" -m pip install -q --no-deps --no-build-isolation --no-compile --target "$tmp" . >/dev/null
root="$(pwd)"
lint="$(cd "$(dirname "$PY")" && pwd)/lint-imports"
# from the build folder: the checkout must not be on sys.path (it would shadow the build)
(cd "$tmp" && PYTHONPATH="$tmp" "$lint" --no-cache --config "$root/pyproject.toml")
"$PY" tools/imports.py --max-deferred 62
