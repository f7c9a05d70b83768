# Sourced by scripts/run, scripts/test and scripts/bench: make .venv and install the project into it.
# Reinstalls only when setup.cfg or pyproject.toml changed since the last install.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON_BIN="${PYTHON:-python3}"
if ! "$PYTHON_BIN" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "mobilize needs Python 3.11 or newer ($PYTHON_BIN is $("$PYTHON_BIN" --version 2>&1))" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  echo "creating .venv" >&2
  "$PYTHON_BIN" -m venv .venv
fi
ensure_installed() {  # $1: the extra to install, e.g. "dev" or ""
  local extra="${1:-}" spec="." stamp
  [ -n "$extra" ] && spec=".[$extra]"
  stamp=".venv/.mobilize-installed-$(cat setup.cfg pyproject.toml | sha256sum | cut -c1-16)-${extra:-base}"
  if [ ! -f "$stamp" ]; then
    local log=".venv/install.log"
    echo "installing mobilize${extra:+ with [$extra]} into .venv (pip's output: $log)" >&2
    if ! { .venv/bin/python -m pip install --upgrade pip && .venv/bin/python -m pip install -e "$spec"; } \
        >"$log" 2>&1; then
      echo "installing failed; the end of $log:" >&2
      tail -n 25 "$log" >&2
      exit 1
    fi
    rm -f .venv/.mobilize-installed-*
    touch "$stamp"
  fi
}
