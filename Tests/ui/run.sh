#!/usr/bin/env bash
# The web UI in a real browser: Playwright for Python driving Debian's chromium against a real
# FlowForge (`flowforge dev`: API, scheduler and worker) on a private, throw-away PostgreSQL.
#
#   Tests/ui/run.sh --bin .build/debug [--headed] [--keep] [-k NAME[,NAME…]]
#
# -k runs test_sign_in and the tests whose names contain one of the NAMEs, in their usual order
# (for working on a few; those tests must not need what the skipped ones made).
# It builds nothing: --bin names the folder with a built `flowforge`. It installs chromium (apt)
# and playwright (pip, into .build/ui-test-venv) when missing, never `playwright install`.
# Screenshots go to test-output/ui/. Everything it starts is stopped again, also on failure or Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)

bin=""
headed=""
keep=""
only=""
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin="$2"; shift 2 ;;
    --headed) headed=1; shift ;;
    --keep) keep=1; shift ;;
    -k) only="$2"; shift 2 ;;
    *) echo "usage: Tests/ui/run.sh --bin DIR [--headed] [--keep] [-k NAME[,NAME…]]" >&2; exit 64 ;;
  esac
done
[ -n "$bin" ] || { echo "Tests/ui/run.sh: --bin DIR is required (the folder with a built flowforge)" >&2; exit 64; }
bin=$(cd "$bin" && pwd)
[ -x "$bin/flowforge" ] || { echo "Tests/ui/run.sh: $bin/flowforge does not exist; build first (swift build)" >&2; exit 66; }

# ------------------------------------------------------------------ browser and Playwright
if [ ! -x /usr/bin/chromium ]; then
  echo "installing chromium (apt)…"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq chromium >/dev/null
fi
venv="$repo/.build/ui-test-venv"
if ! "$venv/bin/python" -c "import playwright" 2>/dev/null; then
  echo "installing playwright (pip, into $venv)…"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check playwright
fi

# ------------------------------------------------------------------ a private FlowForge
workdir=$(mktemp -d /tmp/flowforge-ui.XXXXXX)
chmod 755 "$workdir"   # PostgreSQL may run as another user when we are root
dev_pid=""
tests_pid=""
cleanup() {
  status=$?
  trap - EXIT INT TERM
  if [ -n "$tests_pid" ] && kill -0 "$tests_pid" 2>/dev/null; then
    kill -TERM "$tests_pid" 2>/dev/null || true   # Playwright closes its browser as it exits
    wait "$tests_pid" 2>/dev/null || true
  fi
  if [ -n "$dev_pid" ] && kill -0 "$dev_pid" 2>/dev/null; then
    kill -TERM "$dev_pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$dev_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$dev_pid" 2>/dev/null || true
  fi
  "$bin/flowforge" postgres stop --dir "$workdir/pg" >/dev/null 2>&1 || true
  if [ "$status" -ne 0 ] && [ -f "$workdir/flowforge.log" ]; then
    echo "---- last lines of the FlowForge log" >&2
    tail -n 40 "$workdir/flowforge.log" >&2 || true
  fi
  if [ -n "$keep" ]; then echo "kept $workdir"; else rm -rf "$workdir"; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

database_url=$("$bin/flowforge" postgres start --dir "$workdir/pg" --max-connections 200)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
token="ui-test-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"

DATABASE_URL="$database_url" FLOWFORGE_API_TOKEN="$token" FLOWFORGE_HTTP_HOST=127.0.0.1 FLOWFORGE_HTTP_PORT="$port" \
  FLOWFORGE_SQL_DIR="$repo/sql" FLOWFORGE_WORKER_CONCURRENCY=4 FLOWFORGE_LOG_LEVEL=warning \
  "$bin/flowforge" dev --state-dir "$workdir/state" >"$workdir/flowforge.log" 2>&1 &
dev_pid=$!

base="http://127.0.0.1:$port"
for _ in $(seq 1 300); do
  if curl -fsS "$base/readyz" >/dev/null 2>&1; then break; fi
  kill -0 "$dev_pid" 2>/dev/null || { echo "flowforge dev exited early" >&2; exit 1; }
  sleep 0.2
done
curl -fsS "$base/readyz" >/dev/null || { echo "FlowForge did not become ready at $base" >&2; exit 1; }
grep -q "#token=$token" "$workdir/flowforge.log" || { echo "flowforge dev did not print the UI link with #token=" >&2; exit 1; }

# ------------------------------------------------------------------ the tests
mkdir -p test-output/ui
rm -f test-output/ui/*.png
# In the background and waited for, so a signal to this script is handled at once, not after the tests.
FLOWFORGE_UI_URL="$base" FLOWFORGE_UI_TOKEN="$token" FLOWFORGE_UI_OUTPUT="$repo/test-output/ui" FLOWFORGE_UI_HEADED="$headed" FLOWFORGE_UI_ONLY="$only" \
  "$venv/bin/python" Tests/ui/test_ui.py &
tests_pid=$!
wait "$tests_pid"
