#!/usr/bin/env bash
# `make run`: install PostgreSQL if needed, build, and start `flowforge dev` (API + scheduler +
# worker on a private PostgreSQL under .flowforge/pg). Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-postgres.sh
echo "Building FlowForge (the first build takes several minutes) …"
swift build --product flowforge
exec .build/debug/flowforge dev "$@"
