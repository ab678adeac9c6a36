#!/usr/bin/env bash
# Makes sure the tools the tests beyond `swift test` need are installed, from the
# distribution's packages: python3 with venv (the deployment validators and browser tests run
# in throw-away virtual environments) and iproute2 (the multi-host test's network namespaces).
set -euo pipefail

missing=()
command -v python3 >/dev/null 2>&1 || missing+=(python3)
if command -v python3 >/dev/null 2>&1; then
  python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)
else
  missing+=(python3-venv)
fi
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null 2>&1; then
  echo "error: need root (or sudo) to install ${missing[*]}" >&2
  exit 1
fi
sudo_cmd=()
[ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
echo "Installing ${missing[*]} from the distribution's packages …"
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "Installed ${missing[*]}."
