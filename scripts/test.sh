#!/usr/bin/env bash
# `make test`: install PostgreSQL if needed, build, start a private throw-away cluster, run
# every test against it, and remove the cluster again whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-postgres.sh
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
swift test --skip-build "$@"
