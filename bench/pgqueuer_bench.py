#!/usr/bin/env python3
"""The pgqueuer side of FlowForge's benchmark race (see bench/compare-pgqueuer.sh).

Written against pgqueuer's public API (1.6.x): ``Queries`` over an ``AsyncpgDriver`` to
install the schema, clear, enqueue and read the log; a ``QueueManager`` per consumer
process with one no-op entrypoint, run with ``QueueManager.run``.

    drain   --dsn DSN --jobs N --consumers K [--batch-size B] [--best] [--fresh-db]
    latency --dsn DSN --rate R --seconds S [--consumers K] [--fresh-db]

``drain`` enqueues N jobs in one bulk insert, then starts K consumer processes (this
script in ``consume`` mode, real separate OS processes) and lets them go at once. The drain
time is read from pgqueuer's own log table on the database's clock, like FlowForge's
``bench throughput``: from the first 'picked' row (written by the dequeue statement that
claims the job) to the last 'successful' row (written when the job's completion is
recorded), so process start-up is not counted. Every job must end 'successful'.

``latency`` starts the consumer(s) on an idle queue, then enqueues one job per call at
about R per second on an absolute schedule. Enqueue-to-start is measured on the host's
clock (time.time()): the job's payload carries the time taken just before the enqueue
call, and the entrypoint subtracts it from the time it starts. The jobs due in the first
second are warm-up and not counted.

The DSN may also come from DATABASE_URL. With --fresh-db the run gets a database of its
own on that server (created, then dropped at the end); without it pgqueuer's schema is
installed into the given database if missing and its queue and log are cleared.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import resource
import secrets
import signal
import subprocess
import sys
import time
from urllib.parse import urlsplit, urlunsplit

try:
    import asyncpg
    import pgqueuer
    from pgqueuer import AsyncpgDriver, Queries, QueueManager
    from pgqueuer.models import Job
    from pgqueuer.types import QueueExecutionMode
except ImportError as error:  # pragma: no cover - told, not handled
    sys.exit(f"pgqueuer_bench: {error}; install it with `pip install 'pgqueuer[asyncpg]'`")

try:
    import uvloop  # pgqueuer depends on it off Windows, and its own `pgq run` uses it.

    run_async = uvloop.run
except ImportError:  # pragma: no cover
    run_async = asyncio.run

DRAIN_ENTRYPOINT = "bench_noop"
LATENCY_ENTRYPOINT = "bench_noop_latency"

# Best settings for throughput, chosen by measurement on the 2-core machine this was written
# on (20,000 no-op jobs, 1/2/5 consumers, batch sizes 10 to 1,000) and from pgqueuer's source:
#  * batch size 500. QueueManager.run's batch_size is both how many jobs one dequeue
#    statement claims and the size at which the completion buffer (JobStatusLogBuffer) writes
#    finished jobs back (else every 0.1 s). Its default, 10 (also what pgqueuer's own
#    tools/benchmark.py uses), gave 2,500-2,700 jobs/s with one consumer and 3,900-4,300 with
#    two; 50 gave 3,000-5,800 / 7,000-8,400; 200 gave 3,400-6,400 / 9,300; 500 gave
#    6,700-7,200 / 10,300-11,000; 1,000 was no better than 500. Start latency of single jobs
#    did not depend on it (each dequeue finds one job either way).
#  * max_concurrent_tasks unlimited (None, the default): a no-op job never blocks, and a cap
#    only adds the per-worker budget CTEs to every dequeue.
#  * one asyncpg connection per consumer (AsyncpgDriver, its benchmark's default; a pool via
#    AsyncpgPoolDriver was no faster), uvloop (pgqueuer's CLI runs on it), durable (logged)
#    tables as FlowForge's are, and pgqueuer's recommended autovacuum settings (`pgq autovac`,
#    Queries.optimize_autovacuum). The scheduler half of PgQueuer is not run: no cron jobs.
#  * consumers: --best tries 1, 2 and 5 processes (the issue quotes 1 and 5) and keeps the
#    fastest; on 2 cores 2 usually wins, 5 processes contend with PostgreSQL for the CPU.
DEFAULT_BATCH_SIZE = 500
BEST_CONSUMERS = (1, 2, 5)


# MARK: - Database helpers


def database_url(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + database))


class FreshDatabase:
    """A database of its own on the DSN's server, dropped on exit (with --fresh-db)."""

    def __init__(self, dsn: str, enabled: bool) -> None:
        self.admin_dsn = dsn
        self.enabled = enabled
        self.name = "pgqueuer_bench_" + secrets.token_hex(6)
        self.dsn = database_url(dsn, self.name) if enabled else dsn

    async def __aenter__(self) -> str:
        if self.enabled:
            connection = await asyncpg.connect(self.admin_dsn)
            try:
                await connection.execute(f'CREATE DATABASE "{self.name}"')
            finally:
                await connection.close()
        return self.dsn

    async def __aexit__(self, *_: object) -> None:
        if self.enabled:
            connection = await asyncpg.connect(self.admin_dsn)
            try:
                await connection.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            finally:
                await connection.close()


async def prepare(connection: asyncpg.Connection) -> Queries:
    """Installs pgqueuer's schema if missing (what `pgq install` does), clears queue and log."""
    queries = Queries(AsyncpgDriver(connection))
    if not await queries.schema_is_installed():
        await queries.install()
        await queries.optimize_autovacuum()
    await queries.clear_queue()
    await queries.clear_queue_log()
    await queries.clear_statistics_log()
    return queries


def percentile(values: list[float], p: float) -> float:
    """Nearest rank, as FlowForge's BenchFormat.percentile."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = math.ceil(p / 100 * len(ordered))
    return ordered[min(len(ordered) - 1, max(0, rank - 1))]


# MARK: - Consumer processes


class Consumers:
    """K copies of this script in `consume` mode, started together behind a barrier."""

    def __init__(self, dsn: str, count: int, mode: str, batch_size: int) -> None:
        env = dict(os.environ, PGQUEUER_BENCH_DSN=dsn)
        command = [sys.executable, os.path.abspath(__file__), "consume", "--mode", mode, "--batch-size", str(batch_size)]
        self.processes = [
            subprocess.Popen(command, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            for _ in range(count)
        ]

    def ready_then_go(self) -> None:
        """Waits until every consumer is connected, then lets them all start."""
        for process in self.processes:
            line = process.stdout.readline().strip()
            if line != "ready":
                self.kill()
                raise SystemExit(f"pgqueuer_bench: a consumer failed to start (said {line!r})")
        for process in self.processes:
            process.stdin.write("go\n")
            process.stdin.flush()

    def running(self) -> bool:
        return any(process.poll() is None for process in self.processes)

    def failed(self) -> list[int]:
        return [code for code in (p.poll() for p in self.processes) if code not in (None, 0)]

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()

    def reports(self, timeout: float = 30) -> list[dict]:
        """Each consumer's JSON report (its last stdout line), once it has exited."""
        results = []
        for process in self.processes:
            try:
                out, _ = process.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                raise SystemExit("pgqueuer_bench: a consumer did not stop")
            if process.returncode != 0:
                raise SystemExit(f"pgqueuer_bench: a consumer exited with {process.returncode}")
            lines = [line for line in out.splitlines() if line.startswith("{")]
            results.append(json.loads(lines[-1]) if lines else {})
        return results


async def consume(mode: str, batch_size: int) -> None:
    """One consumer process: a QueueManager with the no-op entrypoint."""
    dsn = os.environ["PGQUEUER_BENCH_DSN"]
    connection = await asyncpg.connect(dsn)
    manager = QueueManager(Queries(AsyncpgDriver(connection)))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, manager.shutdown.set)

    executed = 0
    first = last = 0.0
    samples: list[tuple[int, float]] = []  # latency mode: (job index, started - enqueued)

    if mode == "drain":

        @manager.entrypoint(DRAIN_ENTRYPOINT)
        async def noop(job: Job) -> None:
            nonlocal executed, first, last
            now = time.time()
            if not executed:
                first = now
            last = now
            executed += 1

    else:

        @manager.entrypoint(LATENCY_ENTRYPOINT)
        async def noop_latency(job: Job) -> None:
            nonlocal executed
            started = time.time()
            index, enqueued = (job.payload or b"0 0").split()
            samples.append((int(index), started - float(enqueued)))
            executed += 1

    print("ready", flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)  # the barrier: "go"
    await manager.run(
        batch_size=batch_size,
        mode=QueueExecutionMode.drain if mode == "drain" else QueueExecutionMode.continuous,
        max_concurrent_tasks=None,
    )
    await connection.close()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(
        json.dumps(
            {"executed": executed, "first": first, "last": last, "samples": samples,
             "cpu_s": usage.ru_utime + usage.ru_stime, "rss_kib": usage.ru_maxrss}
        ),
        flush=True,
    )


# MARK: - drain


async def drain_once(dsn: str, jobs: int, consumers: int, batch_size: int, timeout: float) -> float:
    """One drain of `jobs` no-op jobs by `consumers` processes; prints its line, returns jobs/s."""
    connection = await asyncpg.connect(dsn)
    try:
        queries = await prepare(connection)
        settings = queries.qbe.settings
        await queries.enqueue([DRAIN_ENTRYPOINT] * jobs, [None] * jobs, [0] * jobs)
        await connection.execute(f"ANALYZE {settings.queue_table}")
        await connection.execute(f"ANALYZE {settings.queue_table_log}")

        group = Consumers(dsn, consumers, "drain", batch_size)
        try:
            group.ready_then_go()
            deadline = time.monotonic() + timeout
            # Drain mode: each QueueManager exits by itself once the queue is empty and its
            # own jobs are done (flushing its completion buffer on the way out).
            while group.running():
                if group.failed():
                    raise SystemExit("pgqueuer_bench: a consumer failed during the drain")
                if time.monotonic() > deadline:
                    raise SystemExit(f"pgqueuer_bench: drain not finished after {timeout} s")
                await asyncio.sleep(0.1)
            reports = group.reports()
        finally:
            group.stop()
            group.kill()

        row = await connection.fetchrow(
            f"""
            SELECT count(*) FILTER (WHERE status = 'successful') AS successful,
                   count(*) FILTER (WHERE status NOT IN ('queued', 'picked', 'successful')) AS other,
                   extract(epoch FROM max(created) FILTER (WHERE status = 'successful')
                                    - min(created) FILTER (WHERE status = 'picked'))::float8 AS seconds
            FROM {settings.queue_table_log}
            """
        )
        remaining = await connection.fetchval(f"SELECT count(*) FROM {settings.queue_table}")
    finally:
        await connection.close()

    executed = sum(report.get("executed", 0) for report in reports)
    if row["successful"] != jobs or row["other"] or remaining or executed != jobs:
        raise SystemExit(
            f"pgqueuer_bench: expected {jobs} successful jobs, log has {row['successful']} "
            f"(+{row['other']} other), {remaining} left in the queue, {executed} executed"
        )
    seconds = row["seconds"]
    # Cross-check on the consumers' clock: first entrypoint start to last entrypoint start.
    first = min(r["first"] for r in reports if r["executed"])
    last = max(r["last"] for r in reports if r["executed"])
    cpu = sum(r["cpu_s"] for r in reports)
    print(
        f"  consumers: executed={'/'.join(str(r['executed']) for r in reports)} "
        f"entrypoint_span_s={last - first:.3f} cpu_s={cpu:.2f} batch_size={batch_size}",
        flush=True,
    )
    rate = jobs / seconds
    print(
        f"pgqueuer-drain jobs={jobs} consumers={consumers} seconds={seconds:.3f} jobs_per_s={round(rate)}",
        flush=True,
    )
    return rate


async def drain(args: argparse.Namespace) -> None:
    print(f"pgqueuer {pgqueuer.__version__}, batch_size={args.batch_size}, max_concurrent_tasks=unlimited", flush=True)
    async with FreshDatabase(args.dsn, args.fresh_db) as dsn:
        if not args.best:
            await drain_once(dsn, args.jobs, args.consumers, args.batch_size, args.timeout)
            return
        counts = [int(x) for x in args.best_consumers.split(",")]
        results = [(await drain_once(dsn, args.jobs, k, args.batch_size, args.timeout), k) for k in counts]
        rate, best = max(results)
        print(f"pgqueuer-drain-best jobs={args.jobs} consumers={best} jobs_per_s={round(rate)}", flush=True)


# MARK: - latency


async def latency(args: argparse.Namespace) -> None:
    print(f"pgqueuer {pgqueuer.__version__}, consumers={args.consumers}, batch_size={args.batch_size}", flush=True)
    async with FreshDatabase(args.dsn, args.fresh_db) as dsn:
        connection = await asyncpg.connect(dsn)
        try:
            queries = await prepare(connection)
            group = Consumers(dsn, args.consumers, "latency", args.batch_size)
            try:
                group.ready_then_go()
                await asyncio.sleep(1.0)  # let each QueueManager verify the schema and LISTEN

                interval = 1.0 / args.rate
                total = int(args.rate * args.seconds)
                start = time.time()
                for index in range(total):
                    # Absolute schedule: job i is due at start + i/rate, whatever the drift.
                    delay = start + index * interval - time.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    enqueued = time.time()
                    await queries.enqueue(LATENCY_ENTRYPOINT, f"{index} {enqueued!r}".encode())
                    if group.failed():
                        raise SystemExit("pgqueuer_bench: a consumer failed during the latency run")
                produced_for = time.time() - start

                deadline = time.monotonic() + 30
                while await queries.queued_work([LATENCY_ENTRYPOINT]) > 0:
                    if time.monotonic() > deadline:
                        raise SystemExit("pgqueuer_bench: jobs still queued 30 s after the last enqueue")
                    await asyncio.sleep(0.05)
                await asyncio.sleep(0.5)  # the last picked jobs reach their entrypoint
                group.stop()
                reports = group.reports()
            finally:
                group.stop()
                group.kill()
        finally:
            await connection.close()

    samples = [sample for report in reports for sample in report.get("samples", [])]
    if sorted(index for index, _ in samples) != list(range(total)):
        raise SystemExit(f"pgqueuer_bench: {total} jobs enqueued but {len(samples)} starts recorded")
    warm_up = int(args.rate)  # the jobs due in the first second
    counted = [lag * 1000 for index, lag in samples if index >= warm_up]
    print(
        f"  enqueued={total} in {produced_for:.2f} s (achieved {total / produced_for:.0f}/s), warm-up discarded="
        f"{total - len(counted)}, consumers cpu_s={sum(r['cpu_s'] for r in reports):.2f}",
        flush=True,
    )
    print(
        f"pgqueuer-latency rate={args.rate:g} runs={len(counted)} p50_ms={percentile(counted, 50):.2f} "
        f"p99_ms={percentile(counted, 99):.2f} max_ms={max(counted, default=0):.2f}",
        flush=True,
    )


# MARK: - Command line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--dsn", default=os.environ.get("DATABASE_URL"), help="postgres:// URL (default: $DATABASE_URL)")
        p.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help="QueueManager.run batch_size")
        p.add_argument("--fresh-db", action="store_true", help="run in a new database on the server, dropped afterwards")

    d = sub.add_parser("drain", help="drain N no-op jobs with K consumer processes")
    common(d)
    d.add_argument("--jobs", type=int, default=20_000)
    d.add_argument("--consumers", type=int, default=5)
    d.add_argument("--best", action="store_true", help="try --best-consumers and report the fastest")
    d.add_argument("--best-consumers", default=",".join(map(str, BEST_CONSUMERS)))
    d.add_argument("--timeout", type=float, default=600)

    lat = sub.add_parser("latency", help="enqueue-to-start latency of single jobs at a steady rate")
    common(lat)
    lat.add_argument("--rate", type=float, default=200)
    lat.add_argument("--seconds", type=float, default=20)
    lat.add_argument("--consumers", type=int, default=1)

    c = sub.add_parser("consume", help=argparse.SUPPRESS)
    c.add_argument("--mode", choices=("drain", "latency"), required=True)
    c.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)

    args = parser.parse_args()
    if args.command == "consume":
        run_async(consume(args.mode, args.batch_size))
        return
    if not args.dsn:
        parser.error("--dsn or DATABASE_URL is required")
    if args.command == "drain":
        if args.jobs < 1 or args.consumers < 1:
            parser.error("--jobs and --consumers must be at least 1")
        run_async(drain(args))
    else:
        if args.rate <= 0 or args.seconds <= 1:
            parser.error("--rate must be positive and --seconds more than 1 (the first second is warm-up)")
        run_async(latency(args))


if __name__ == "__main__":
    main()
