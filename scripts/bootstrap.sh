#!/usr/bin/env bash
# Create .venv and install textrepair with its pinned dependencies. Idempotent: a stamp file
# skips the work when requirements.lock and pyproject.toml have not changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
STAMP="$VENV/.textrepair-installed"
TOOLS_VENV=${TOOLS_VENV:-.venv-tools}
TOOLS_STAMP="$TOOLS_VENV/.tools-installed"

"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
  echo "textrepair needs Python 3.11 or newer (found $("$PYTHON" --version 2>&1))" >&2; exit 1; }
command -v java >/dev/null || { echo "PySpark needs Java 17: install a JDK (e.g. openjdk-17-jre-headless)" >&2; exit 1; }

# Tools whose pins conflict with ours (checkov) live in their own venv; the deploy tests call it.
if [ ! -f "$TOOLS_STAMP" ] || [ requirements-tools.lock -nt "$TOOLS_STAMP" ]; then
  echo "Installing checkov into $TOOLS_VENV (requirements-tools.lock)..."
  [ -x "$TOOLS_VENV/bin/python" ] || "$PYTHON" -m venv "$TOOLS_VENV"
  "$TOOLS_VENV/bin/python" -m pip install --quiet -r requirements-tools.lock
  touch "$TOOLS_STAMP"
fi

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
