#!/usr/bin/env bash
# `make test`: install PostgreSQL if needed, build, start a private throw-away cluster, run
# every test against it, and remove the cluster again whatever happens. Then the multi-host
# fault test (network namespaces, as root) and the deployment files' validation.
# Arguments go to `swift test` (e.g. `scripts/test.sh --filter Worker`), and then only it runs.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-postgres.sh
scripts/ensure-tools.sh
# The SMTP client's tests start a real SMTP server (aiosmtpd) from this Python environment.
FLOWFORGE_TEST_SMTP_PYTHON=$(Tests/support/ensure-smtp-venv.sh)
export FLOWFORGE_TEST_SMTP_PYTHON
swift build --build-tests

workdir=$(mktemp -d /tmp/flowforge-test.XXXXXX)
chmod 755 "$workdir"   # PostgreSQL may run as another user when we are root
cleanup() {
  .build/debug/flowforge postgres stop --dir "$workdir/pg" >/dev/null 2>&1 || true
  rm -rf "$workdir"
}
trap cleanup EXIT INT TERM

FLOWFORGE_TEST_DATABASE_URL=$(.build/debug/flowforge postgres start --dir "$workdir/pg" --max-connections 500)
export FLOWFORGE_TEST_DATABASE_URL
# The million-input cron fuzz runs apart, after the rest: it would keep a core busy while the
# engine's timing tests run.
swift test --skip-build --skip CronMillionFuzzTests "$@"
[ $# -eq 0 ] || exit 0
echo "== cron parser: a million fuzzed inputs"
swift test --skip-build --filter CronMillionFuzzTests

echo "== multi-host fault test"
python3 Tests/multihost/multihost.py --bin .build/debug
echo "== deployment files"
deploy/validate.sh
echo "== web UI in a browser"
Tests/ui/run.sh --bin .build/debug
echo "== API fuzzing (schemathesis)"
Tests/fuzz/run.sh --bin .build/debug
