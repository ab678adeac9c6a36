#!/usr/bin/env bash
# Makes sure PostgreSQL's server binaries (initdb, pg_ctl) and the time-zone database are
# installed, using the distribution's packages. Nothing is started here.
set -euo pipefail

have_initdb() {
  command -v initdb >/dev/null 2>&1 && return 0
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
}

missing=()
have_initdb || missing+=(postgresql)
[ -e /usr/share/zoneinfo/America/New_York ] || missing+=(tzdata)
[ ${#missing[@]} -eq 0 ] && exit 0

echo "Installing ${missing[*]} from the distribution's packages …"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "error: need root (or sudo) to install ${missing[*]}" >&2; exit 1; }
  sudo_cmd=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
# Debian's package tries to start a cluster of its own; we never use it, so don't let it start.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | "${sudo_cmd[@]}" tee "$policy" >/dev/null
  "${sudo_cmd[@]}" chmod +x "$policy"
  created_policy=1
fi
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
[ $created_policy -eq 1 ] && "${sudo_cmd[@]}" rm -f "$policy"
have_initdb || { echo "error: PostgreSQL was installed but initdb is still not found" >&2; exit 1; }
echo "Installed ${missing[*]}."
