#!/usr/bin/env bash
# Create .venv and install textrepair with its pinned dependencies. Idempotent: a stamp file
# skips the work when requirements.lock and pyproject.toml have not changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
STAMP="$VENV/.textrepair-installed"

"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
  echo "textrepair needs Python 3.11 or newer (found $("$PYTHON" --version 2>&1))" >&2; exit 1; }
command -v java >/dev/null || { echo "PySpark needs Java 17: install a JDK (e.g. openjdk-17-jre-headless)" >&2; exit 1; }

if [ -f "$STAMP" ] && [ "$STAMP" -nt requirements.lock ] && [ "$STAMP" -nt pyproject.toml ]; then
  exit 0
fi
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
# torch first: the pinned CPU build; asked for later by another package, pip could pick a CUDA build.
echo "Installing torch (CPU build)..."
"$VENV/bin/python" -m pip install --quiet "$(grep -E '^torch==' requirements.lock)"
echo "Installing pinned dependencies from requirements.lock..."
"$VENV/bin/python" -m pip install --quiet -r requirements.lock
"$VENV/bin/python" -m pip install --quiet --no-deps -e .
touch "$STAMP"
echo "Environment ready in $VENV"
