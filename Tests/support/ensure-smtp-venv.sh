#!/usr/bin/env bash
# Makes the Python environment of the SMTP client's test server (Tests/support/smtp_server.py:
# aiosmtpd, and cryptography for its self-signed certificate), pinned, once, under .build/ (git
# ignores .build*/), and prints its interpreter's path for FLOWFORGE_TEST_SMTP_PYTHON.
# Needs python3 with venv (scripts/ensure-tools.sh installs it) and PyPI.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="${FLOWFORGE_SMTP_VENV:-$repo/.build/smtp-test-venv}"
want="aiosmtpd==1.4.6 cryptography==51.0.1"
stamp="$venv/.flowforge-requirements"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] || [ ! -x "$venv/bin/python" ]; then
  echo "installing $want (pip, into $venv) …" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  # shellcheck disable=SC2086 # the list is meant to split into packages
  "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-input $want >&2 \
    || { echo "error: could not install $want into $venv" >&2; exit 1; }
  echo "$want" >"$stamp"
fi
echo "$venv/bin/python"
