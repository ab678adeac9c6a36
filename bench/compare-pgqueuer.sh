#!/usr/bin/env bash
# FlowForge against pgqueuer (PyPI), on the same private PostgreSQL, one after the other:
#
#   throughput  FlowForge's `bench throughput` (W workers of C slots) against pgqueuer drains
#               of the same N no-op jobs with its best consumer count (1, 2 or 5 processes),
#               twice: with pgqueuer's default batch size (10, as most users run it) and with
#               batch size 500, its fastest setting here (bench/pgqueuer_bench.py says why).
#               All are timed on the database's clock from the first job's start to the last
#               job's finish.
#   latency     enqueue-to-start of single jobs arriving at about RATE per second, p99, for
#               FlowForge's `bench latency` and for pgqueuer.
#
#   cost        the CPU one job costs each side, once, after the rounds: PostgreSQL's processes
#               (`flowforge postgres cpu`, read from /proc) and the client processes (FlowForge's
#               workers, pgqueuer's consumers), over a drain of N jobs less a drain of one job
#               (start-up, schema, database), divided by N - 1. Enqueueing is included on the
#               PostgreSQL side for both. On a machine both keep busy, the throughput ratio
#               cannot exceed the inverse ratio of these totals for long.
#
# Each round prints both figures and the ratio FlowForge/pgqueuer: for throughput above 1 means
# FlowForge is faster, for latency below 1 means FlowForge is faster (lower is better). The
# machine is noisy, so there are ROUNDS rounds (default 2) and a summary of them at the end.
#
# pgqueuer is installed into a throw-away virtual environment; the PostgreSQL cluster lives in
# a temporary folder and is stopped and removed at exit.
#
#   bench/compare-pgqueuer.sh
#   JOBS=2000 LATENCY_SECONDS=5 ROUNDS=1 bench/compare-pgqueuer.sh
#
# Settings (environment):
#   JOBS=20000                 jobs per drain
#   RATE=200                   jobs per second in the latency runs
#   LATENCY_SECONDS=20         length of each latency run (the first second is warm-up)
#   ROUNDS=2                   rounds of both comparisons
#   FLOWFORGE_WORKERS=2        flowforge-worker processes for `bench throughput`
#   FLOWFORGE_CONCURRENCY=256  slots per worker
#   PGQUEUER_VERSION=1.6.0     pgqueuer to install (the newest is taken if this one is not on PyPI)
#   PGQUEUER_CONSUMERS=1,2,5   consumer process counts the pgqueuer drain tries; the best counts
#   PGQUEUER_BATCH_SIZES=10,500 pgqueuer batch sizes raced (each with its best consumer count)
#   PGQUEUER_LATENCY_CONSUMERS=1
#   COST=1                     0 skips the cost per job (it takes four more drains)
set -euo pipefail

JOBS="${JOBS:-20000}"
RATE="${RATE:-200}"
LATENCY_SECONDS="${LATENCY_SECONDS:-20}"
ROUNDS="${ROUNDS:-2}"
FLOWFORGE_WORKERS="${FLOWFORGE_WORKERS:-2}"
FLOWFORGE_CONCURRENCY="${FLOWFORGE_CONCURRENCY:-256}"
PGQUEUER_VERSION="${PGQUEUER_VERSION:-1.6.0}"
PGQUEUER_CONSUMERS="${PGQUEUER_CONSUMERS:-1,2,5}"
PGQUEUER_LATENCY_CONSUMERS="${PGQUEUER_LATENCY_CONSUMERS:-1}"
PGQUEUER_BATCH_SIZES="${PGQUEUER_BATCH_SIZES:-10,500}"
COST="${COST:-1}"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
FLOWFORGE="$ROOT/.build/release/flowforge"
PGQ_BENCH="$ROOT/bench/pgqueuer_bench.py"

say() { printf '%s\n' "$*"; }
die() { printf 'compare-pgqueuer: %s\n' "$*" >&2; exit 1; }
# The value of key= in a result line.
field() { sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p" <<<"$2"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "n/a"; else printf "%.2f", a / b }'; }

if [[ ! -x "$FLOWFORGE" || ! -x "$ROOT/.build/release/flowforge-worker" ]]; then
    say "building FlowForge (release)"
    swift build -c release
fi

TMP="$(mktemp -d "${TMPDIR:-/tmp}/flowforge-vs-pgqueuer.XXXXXX")"
# As root, `flowforge postgres` runs PostgreSQL as the postgres (or flowforge) user, who must be
# able to reach the cluster folder inside this one.
chmod 755 "$TMP"
PG_STARTED=0
cleanup() {
    local status=$?
    if [[ "$PG_STARTED" == 1 ]]; then
        "$FLOWFORGE" postgres stop --dir "$TMP/pg" >/dev/null 2>&1 || say "warning: could not stop the PostgreSQL in $TMP/pg"
    fi
    rm -rf "$TMP"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- pgqueuer in a throw-away virtual environment -------------------------------------------
if ! python3 -m venv "$TMP/venv" >"$TMP/venv.log" 2>&1; then
    if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
        say "python3 -m venv failed (no venv/ensurepip): installing python3-venv"
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
        rm -rf "$TMP/venv"
        python3 -m venv "$TMP/venv" || die "python3 -m venv still fails after installing python3-venv"
    else
        cat "$TMP/venv.log" >&2
        die "python3 -m venv does not work here; install python3-venv (apt-get install python3-venv) and run again"
    fi
fi
PY="$TMP/venv/bin/python"
export PIP_DISABLE_PIP_VERSION_CHECK=1
if ! "$PY" -m pip install -q "pgqueuer[asyncpg]==$PGQUEUER_VERSION" >"$TMP/pip.log" 2>&1; then
    say "pgqueuer $PGQUEUER_VERSION could not be installed; taking the newest"
    "$PY" -m pip install -q "pgqueuer[asyncpg]" >"$TMP/pip.log" 2>&1 || { cat "$TMP/pip.log" >&2; die "pip install pgqueuer failed"; }
fi
PGQ_VERSION="$("$PY" -c 'import pgqueuer; print(pgqueuer.__version__)')"

# CPU microseconds per job between a drain of N jobs and one of 1: cpu_per_job N CPU_N CPU_1 (seconds).
cpu_per_job() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.0f", (a - b) / (n - 1) * 1e6 }'; }

# --- a private PostgreSQL --------------------------------------------------------------------
PG_STARTED=1
URL="$("$FLOWFORGE" postgres start --dir "$TMP/pg" 2>"$TMP/postgres-start.log")" || {
    cat "$TMP/postgres-start.log" >&2
    die "could not start a private PostgreSQL"
}
[[ "$URL" == postgres://* ]] || die "flowforge postgres start printed no URL: $URL"

say "FlowForge $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?') against pgqueuer $PGQ_VERSION"
PG_VERSION="$("$PY" -c 'import asyncio, sys, asyncpg
async def main():
    connection = await asyncpg.connect(sys.argv[1])
    print(await connection.fetchval("SHOW server_version"))
    await connection.close()
asyncio.run(main())' "$URL")"
say "machine: nproc=$(nproc), Python $("$PY" -c 'import platform; print(platform.python_version())'), PostgreSQL $PG_VERSION"
say "settings: jobs=$JOBS rate=$RATE latency_seconds=$LATENCY_SECONDS rounds=$ROUNDS flowforge_workers=$FLOWFORGE_WORKERS flowforge_concurrency=$FLOWFORGE_CONCURRENCY pgqueuer_consumers=$PGQUEUER_CONSUMERS"
say

SUMMARY=()
for round in $(seq 1 "$ROUNDS"); do
    say "=== round $round of $ROUNDS"

    say "--- FlowForge throughput"
    DATABASE_URL="$URL" "$FLOWFORGE" bench throughput --jobs "$JOBS" --workers "$FLOWFORGE_WORKERS" \
        --concurrency "$FLOWFORGE_CONCURRENCY" | tee "$TMP/ff-throughput.log"
    line="$(grep '^throughput ' "$TMP/ff-throughput.log" | tail -1)"
    ff_rate="$(field jobs_per_s "$line")"
    [[ -n "$ff_rate" ]] || die "no result line from flowforge bench throughput"

    throughput_summary=""
    cost_rate=0
    for batch in ${PGQUEUER_BATCH_SIZES//,/ }; do
        say "--- pgqueuer drain, batch size $batch"
        "$PY" "$PGQ_BENCH" drain --dsn "$URL" --fresh-db --jobs "$JOBS" --batch-size "$batch" --best --best-consumers "$PGQUEUER_CONSUMERS" \
            | tee "$TMP/pgq-drain.log"
        line="$(grep '^pgqueuer-drain-best ' "$TMP/pgq-drain.log" | tail -1)"
        pgq_rate="$(field jobs_per_s "$line")"
        pgq_consumers="$(field consumers "$line")"
        [[ -n "$pgq_rate" ]] || die "no result line from the pgqueuer drain"
        tp_ratio="$(ratio "$ff_rate" "$pgq_rate")"
        say "ratio throughput pgqueuer_batch_size=$batch flowforge=$ff_rate pgqueuer=$pgq_rate ratio=$tp_ratio"
        throughput_summary+=" batch_size=$batch: pgqueuer=$pgq_rate (consumers=$pgq_consumers) ratio=$tp_ratio;"
        # The cost section takes pgqueuer's fastest setting of the last round.
        if ((pgq_rate > cost_rate)); then
            cost_batch="$batch" cost_consumers="$pgq_consumers" cost_rate="$pgq_rate"
        fi
    done

    say "--- FlowForge latency"
    DATABASE_URL="$URL" "$FLOWFORGE" bench latency --rate "$RATE" --seconds "$LATENCY_SECONDS" | tee "$TMP/ff-latency.log"
    line="$(grep '^latency ' "$TMP/ff-latency.log" | tail -1)"
    ff_p50="$(field p50_ms "$line")"
    ff_p99="$(field p99_ms "$line")"
    [[ -n "$ff_p99" ]] || die "no result line from flowforge bench latency"

    say "--- pgqueuer latency"
    "$PY" "$PGQ_BENCH" latency --dsn "$URL" --fresh-db --rate "$RATE" --seconds "$LATENCY_SECONDS" \
        --consumers "$PGQUEUER_LATENCY_CONSUMERS" | tee "$TMP/pgq-latency.log"
    line="$(grep '^pgqueuer-latency ' "$TMP/pgq-latency.log" | tail -1)"
    pgq_p50="$(field p50_ms "$line")"
    pgq_p99="$(field p99_ms "$line")"
    [[ -n "$pgq_p99" ]] || die "no result line from the pgqueuer latency run"
    lat_ratio="$(ratio "$ff_p99" "$pgq_p99")"
    # Lower is better for latency: a ratio below 1 means FlowForge starts jobs sooner.
    say "ratio latency_p99 flowforge=$ff_p99 pgqueuer=$pgq_p99 ratio=$lat_ratio (lower is better)"
    say

    SUMMARY+=("round $round: throughput jobs/s flowforge=$ff_rate;$throughput_summary latency ms p50 flowforge=$ff_p50 pgqueuer=$pgq_p50, p99 flowforge=$ff_p99 pgqueuer=$pgq_p99 ratio=$lat_ratio")
done

COST_SUMMARY=()
if [[ "$COST" == 1 && "$JOBS" -gt 1 ]]; then
    say "=== cost per job (pgqueuer with batch size $cost_batch and $cost_consumers consumers, its fastest in the last round)"
    # Each side drains 1 job, then $JOBS; what PostgreSQL and the clients used is read around each.
    declare -A postgres_s client_s total_us
    for side in flowforge pgqueuer; do
        for n in 1 "$JOBS"; do
            before="$("$FLOWFORGE" postgres cpu --dir "$TMP/pg")"
            if [[ "$side" == flowforge ]]; then
                DATABASE_URL="$URL" "$FLOWFORGE" bench throughput --jobs "$n" --workers "$FLOWFORGE_WORKERS" \
                    --concurrency "$FLOWFORGE_CONCURRENCY" >"$TMP/cost.log"
                client="$(sed -n 's/^process name=flowforge-worker.* cpu_s=\([0-9.]*\).*/\1/p' "$TMP/cost.log" | awk '{ s += $1 } END { print s }')"
            else
                "$PY" "$PGQ_BENCH" drain --dsn "$URL" --fresh-db --jobs "$n" --batch-size "$cost_batch" \
                    --consumers "$cost_consumers" >"$TMP/cost.log"
                client="$(sed -n 's/^  consumers: .* cpu_s=\([0-9.]*\).*/\1/p' "$TMP/cost.log" | tail -1)"
            fi
            after="$("$FLOWFORGE" postgres cpu --dir "$TMP/pg")"
            [[ -n "$client" ]] || die "no client CPU figure from the $side drain of $n jobs"
            postgres_s[$side,$n]="$(awk -v a="$after" -v b="$before" 'BEGIN { print a - b }')"
            client_s[$side,$n]="$client"
        done
        pg_us="$(cpu_per_job "$JOBS" "${postgres_s[$side,$JOBS]}" "${postgres_s[$side,1]}")"
        client_us="$(cpu_per_job "$JOBS" "${client_s[$side,$JOBS]}" "${client_s[$side,1]}")"
        total_us[$side]=$((pg_us + client_us))
        line="cost $side postgres_us_per_job=$pg_us client_us_per_job=$client_us total_us_per_job=${total_us[$side]}"
        say "$line"
        COST_SUMMARY+=("$line")
    done
    line="ratio cost pgqueuer/flowforge=$(ratio "${total_us[pgqueuer]}" "${total_us[flowforge]}") (CPU per job; a bound on the throughput ratio while both keep the machine busy)"
    say "$line"
    COST_SUMMARY+=("$line")
    say
fi

say "=== summary: FlowForge (workers=$FLOWFORGE_WORKERS concurrency=$FLOWFORGE_CONCURRENCY) against pgqueuer $PGQ_VERSION, $JOBS jobs, $RATE/s for $LATENCY_SECONDS s, nproc=$(nproc)"
say "throughput ratio = FlowForge/pgqueuer jobs per second (higher is better); latency ratio = FlowForge/pgqueuer p99 (lower is better)"
for entry in "${SUMMARY[@]}" "${COST_SUMMARY[@]}"; do say "$entry"; done
