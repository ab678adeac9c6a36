#!/usr/bin/env bash
# Fuzzes the API from its own OpenAPI document with schemathesis: a private PostgreSQL, the
# migrations, `flowforge-api` alone (no worker and no scheduler, so nothing the fuzzer stores is
# ever run), a few seeded workflows, triggers, executions, alert channels and an alert rule so
# that path ids also hit existing rows, then `schemathesis run` against
# http://127.0.0.1:PORT/openapi.yaml with every check.
# Fails on any 5xx, any answer the document does not allow, a crashed API, a 5xx or crash in
# the API's log, or an answer body carrying the token or a stack trace.
#
# Usage: Tests/fuzz/run.sh [--bin DIR]   (DIR: the debug executables, default .build/debug)
#   FLOWFORGE_FUZZ_EXAMPLES  test cases per operation and phase (default 40)
#   FLOWFORGE_FUZZ_SEED      hypothesis seed (default 20260601; the same seed replays the run)
#   FLOWFORGE_FUZZ_VENV      the virtual environment (default .build/fuzz-venv; git ignores .build*/)
#   FLOWFORGE_FUZZ_KEEP=1    keep the work folder (logs, HAR of every exchange) and say where
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bin="$repo/.build/debug"
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) [ $# -ge 2 ] || { echo "error: --bin needs a folder" >&2; exit 2; }; bin="$2"; shift 2 ;;
    --bin=*) bin="${1#--bin=}"; shift ;;
    -h | --help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "error: unknown argument $1 (usage: Tests/fuzz/run.sh [--bin DIR])" >&2; exit 2 ;;
  esac
done
bin="$(cd "$bin" && pwd)"
for program in flowforge flowforge-api; do
  [ -x "$bin/$program" ] || { echo "error: $bin/$program is missing; run swift build first" >&2; exit 1; }
done

schemathesis_version=4.32.5
examples="${FLOWFORGE_FUZZ_EXAMPLES:-40}"
seed="${FLOWFORGE_FUZZ_SEED:-20260601}"
venv="${FLOWFORGE_FUZZ_VENV:-$repo/.build/fuzz-venv}"
started=$SECONDS

# ---- schemathesis, pinned, in a reusable virtual environment -------------------------------
ensure_schemathesis() {
  local stamp="$venv/.flowforge-requirements" want="schemathesis==$schemathesis_version"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$venv/bin/st" ]; then return 0; fi
  if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    local sudo_cmd=()
    if [ "$(id -u)" -ne 0 ]; then
      command -v sudo >/dev/null 2>&1 || { echo "error: need root (or sudo) to install python3-venv" >&2; exit 1; }
      sudo_cmd=(sudo)
    fi
    echo "Installing python3-venv from the distribution's packages …" >&2
    export DEBIAN_FRONTEND=noninteractive
    "${sudo_cmd[@]}" apt-get update -qq
    "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
  fi
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-input "$want" \
    || { echo "error: could not install $want into $venv" >&2; exit 1; }
  echo "$want" >"$stamp"
}
ensure_schemathesis

# ---- a private PostgreSQL and the API ------------------------------------------------------
work="$(mktemp -d /tmp/flowforge-fuzz.XXXXXX)"
chmod 755 "$work"   # PostgreSQL may run as another user when we are root
api_pid=""
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [ -n "$api_pid" ] && kill -0 "$api_pid" 2>/dev/null; then
    kill -TERM "$api_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$api_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$api_pid" 2>/dev/null || true
  fi
  "$bin/flowforge" postgres stop --dir "$work/pg" >/dev/null 2>&1 || true
  if [ "${FLOWFORGE_FUZZ_KEEP:-0}" = 1 ]; then echo "fuzz: kept $work" >&2; else rm -rf "$work"; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

DATABASE_URL="$("$bin/flowforge" postgres start --dir "$work/pg" --max-connections 200)"
export DATABASE_URL
FLOWFORGE_SQL_DIR="$repo/sql" "$bin/flowforge" migrate >"$work/migrate.log" 2>&1 \
  || { cat "$work/migrate.log" >&2; echo "error: flowforge migrate failed" >&2; exit 1; }

token="fuzz-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
secret_key="$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')"   # seals webhook secrets
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
FLOWFORGE_API_TOKEN="$token" FLOWFORGE_SECRET_KEY="$secret_key" FLOWFORGE_HTTP_HOST=127.0.0.1 FLOWFORGE_HTTP_PORT="$port" \
  "$bin/flowforge-api" >"$work/api.log" 2>&1 &
api_pid=$!
answers() {  # url: whether it answers 2xx within two seconds (in python: no need for curl)
  python3 -c 'import sys, urllib.request
try:
    urllib.request.urlopen(sys.argv[1], timeout=2)
except Exception:
    sys.exit(1)' "$1"
}
for _ in $(seq 300); do
  answers "$base/readyz" && break
  kill -0 "$api_pid" 2>/dev/null || { cat "$work/api.log" >&2; echo "error: flowforge-api exited at start" >&2; exit 1; }
  sleep 0.1
done
answers "$base/readyz" || { cat "$work/api.log" >&2; echo "error: flowforge-api is not ready" >&2; exit 1; }

# ---- seed rows, so that small path ids (1, 2, 3 …) exist --------------------------------
api() {  # method path [body]; stops the script unless the answer is 2xx
  python3 - "$1" "$base/api$2" "$token" "${3:-}" <<'PY' || exit 1
import sys, urllib.error, urllib.request
method, url, token, body = sys.argv[1:5]
request = urllib.request.Request(url, method=method, data=body.encode() if body else None,
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
try:
    urllib.request.urlopen(request, timeout=10)
except urllib.error.HTTPError as error:
    sys.exit(f"error: seeding {method} {url} answered {error.code}: {error.read().decode(errors='replace')}")
PY
}
api POST /workflows '{"name":"extract","steps":[{"name":"pull","kind":"shell","command":["true"]}],
  "triggers":[{"trigger_type":"scheduled","cron_expression":"0 2 * * *","timezone":"Europe/Berlin"}]}'
api POST /workflows '{"name":"load","steps":[{"name":"wait","kind":"noop","sleep_ms":10}],
  "triggers":[{"trigger_type":"dependency","depends_on_workflow_id":1,"dependency_condition":"on_success"}]}'
api POST /workflows '{"name":"notify","steps":[{"name":"ping","kind":"http","method":"POST","url":"http://127.0.0.1:9/done","body":"{}","expect_status":[200]}]}'
api POST /workflows/2/triggers '{"trigger_type":"scheduled","cron_expression":"*/15 * * * *","enabled":false}'
api POST /workflows/3/triggers '{"trigger_type":"event","event_type":"file_arrival","event_config":{"directory":"/data/incoming","pattern":"*.csv"}}'
api POST /workflows/3/triggers '{"trigger_type":"event","event_type":"webhook"}'
for workflow in 1 2 3 1 2; do api POST "/workflows/$workflow/run"; done
api POST /executions/5/cancel
api POST /alert-channels '{"name":"ops","kind":"webhook","url":"http://127.0.0.1:9/alerts"}'
api POST /alert-channels '{"name":"mail","kind":"email","host":"127.0.0.1","port":2525,"security":"none","from":"flowforge@example.com","to":["ops@example.com"]}'
api POST /alert-rules '{"name":"failures","workflow_ids":[1,2],"events":["failed",{"type":"consecutive_failures","count":3}],"channel_ids":[1,2]}'

# ---- the fuzz ------------------------------------------------------------------------------
# Every check runs (`--checks all`; Tests/fuzz/schemathesis.toml widens two of them where they
# cannot apply, and says why). The document declares no links, so the stateful phase has only
# what schemathesis infers. The report in HAR form keeps every exchange for the body scan below.
# The examples database is off so that the seed alone decides what is sent. One worker: with
# two, schemathesis 4.32.5 once stopped on an internal KeyError of its own.
set +e
(
  cd "$work"
  "$venv/bin/st" --config-file "$repo/Tests/fuzz/schemathesis.toml" run "$base/openapi.yaml" \
    --header "Authorization: Bearer $token" \
    --checks all \
    --max-examples "$examples" \
    --seed "$seed" \
    --generation-database none \
    --workers 1 \
    --request-timeout 20 \
    --report har --report-har-path "$work/exchanges.har" \
    --no-color
) 2>&1 | tee "$work/schemathesis.log"
st_status=${PIPESTATUS[0]}
set -e

failures=0
fail() { echo "fuzz: FAIL: $*" >&2; failures=$((failures + 1)); }
[ "$st_status" = 0 ] || fail "schemathesis reported failures (exit $st_status)"
kill -0 "$api_pid" 2>/dev/null || fail "flowforge-api is no longer running"
answers "$base/healthz" || fail "flowforge-api no longer answers /healthz"
if grep -nE 'request failed|internal error|Fatal error|Stack dump|[Bb]acktrace|SIGSEGV|SIGABRT' "$work/api.log" >&2; then
  fail "flowforge-api logged a 5xx or a crash (lines above)"
fi
if grep -qF -e "$token" -e "$secret_key" "$work/api.log"; then fail "flowforge-api logged its token or FLOWFORGE_SECRET_KEY"; fi

# Every answer: no 5xx, no token, no stack trace or database internals in the body.
"$venv/bin/python" - "$work/exchanges.har" "$token" "$secret_key" <<'PY' || fail "answers failed the body scan (lines above)"
import base64, json, re, sys
har, token, secret_key = sys.argv[1], sys.argv[2], sys.argv[3]
leak = re.compile(r"Fatal error|Stack dump|Traceback|\.swift:\d+|PSQLError|PostgresNIO|SQLSTATE|"
                  r"NIOCore|Hummingbird\.|DecodingError|internal error", re.I)
bad = 0
for entry in json.load(open(har))["log"]["entries"]:
    response, request = entry["response"], entry["request"]
    content = response.get("content", {})
    text = content.get("text") or ""
    if content.get("encoding") == "base64":
        text = base64.b64decode(text).decode("utf-8", "replace")
    where = f'{request["method"]} {request["url"][:200]} -> {response["status"]}'
    if response["status"] >= 500:
        print(f"fuzz: FAIL: {where}: a server error", file=sys.stderr); bad += 1
    if token in text or secret_key in text:
        print(f"fuzz: FAIL: {where}: the body carries the API token or FLOWFORGE_SECRET_KEY", file=sys.stderr); bad += 1
    if leak.search(text):
        print(f"fuzz: FAIL: {where}: the body looks like a stack trace or internals: {text[:200]!r}", file=sys.stderr); bad += 1
sys.exit(1 if bad else 0)
PY

# The counts, from schemathesis's summary ("Tested: 26", "1490 generated").
operations="$(sed -n 's/^ *Tested: \([0-9]*\).*/\1/p' "$work/schemathesis.log" | tail -1)"
cases="$(sed -n 's/^ *\([0-9]*\) generated.*/\1/p' "$work/schemathesis.log" | tail -1)"
[ -n "$operations" ] && [ -n "$cases" ] || fail "could not read the counts from schemathesis's summary"

echo "fuzz: $operations operations, $cases examples, $failures failures ($((SECONDS - started)) s, schemathesis $schemathesis_version, seed $seed, $examples examples per operation)"
[ "$failures" = 0 ]
