#!/usr/bin/env python3
"""FlowForge across several "hosts": network namespaces joined to a database namespace by veth
pairs, with crashes, pauses, a cut link and a database restart while runs flow.

Layout (each namespace is a host with its own address; nothing listens beyond these links):

    root namespace ── 10.213.9.0/24 ── db namespace (PostgreSQL) ── 10.213.1.0/24 ── h1: scheduler, worker
    (API, this test)                         │                 └── 10.213.2.0/24 ── h2: scheduler, worker
                                             └──────────────────── 10.213.3.0/24 ── h3: worker

Load: 200 every-minute triggers, and 1,000 "Run now" runs of 50 upstream workflows, each of
which starts a dependency run of its downstream workflow (2,000 manual and dependency runs).
Faults, while that runs: SIGKILL a worker mid-step and start it again; SIGKILL a scheduler
(restarted later); SIGSTOP a worker past its lease, then SIGCONT; take a worker host's link
down for longer than the lease; restart PostgreSQL (fast shutdown).

Then every expected run must exist exactly once, be completed, carry the result of its last
attempt, and every process must have reconnected within 10 s of PostgreSQL coming back.

Run as root (`make test` does); without root it says why and skips. Usage:
    Tests/multihost/multihost.py [--bin .build/debug]
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone

LEASE_SECONDS = 5
STALL_SECONDS = 12          # SIGSTOP and the cut link last this long: past the lease and the rescue
CHAINS = 50                 # upstream/downstream workflow pairs
MANUAL_RUNS = 1_000         # "Run now" on the upstream workflows, round robin
ENQUEUE_SECONDS = 75        # spread over this long, so the faults happen while runs flow
SCHEDULED_TRIGGERS = 200
RECONNECT_LIMIT = 10.0
STEP = ["sh", "-c", "sleep 1; echo attempt=$FLOWFORGE_ATTEMPT"]


def log(message):
    print(f"multihost: {message}", flush=True)


def run(argv, check=True, **kwargs):
    return subprocess.run(argv, check=check, text=True, capture_output=True, **kwargs)


class Cluster:
    """Namespaces, links, PostgreSQL and FlowForge processes; `close()` removes all of it."""

    def __init__(self, bin_dir, sql_dir):
        self.bin = os.path.abspath(bin_dir)
        self.sql_dir = os.path.abspath(sql_dir)
        self.tag = f"{os.getpid() % 100000}"
        self.ns = {name: f"ff{self.tag}-{name}" for name in ("db", "h1", "h2", "h3")}
        self.links = []           # (namespace, interface) of each host-side veth end
        self.work = tempfile.mkdtemp(prefix="flowforge-multihost.")
        os.chmod(self.work, 0o755)
        self.processes = {}       # name -> (Popen, argv, env, namespace)
        self.logs = {}
        self.pg_bin = self.postgres_bin()
        self.password = os.urandom(12).hex()
        self.token = "multihost-" + os.urandom(12).hex()
        self.api_port = None

    # ---- network -------------------------------------------------------------------------

    def netns(self, name, *argv):
        return run(["ip", "netns", "exec", self.ns[name], *argv])

    def build_network(self):
        for ns in self.ns.values():
            run(["ip", "netns", "add", ns])
            run(["ip", "-n", ns, "link", "set", "lo", "up"])
        # host k <-> db: 10.213.k.2 <-> 10.213.k.1
        for k, host in ((1, "h1"), (2, "h2"), (3, "h3")):
            self.veth(f"v{self.tag}d{k}", self.ns["db"], f"10.213.{k}.1/24", f"v{self.tag}h{k}", self.ns[host], f"10.213.{k}.2/24")
            self.links.append((self.ns[host], f"v{self.tag}h{k}"))
        # the root namespace (this test and the API) <-> db: 10.213.9.2 <-> 10.213.9.1
        self.veth(f"v{self.tag}d9", self.ns["db"], "10.213.9.1/24", f"v{self.tag}r9", None, "10.213.9.2/24")

    def veth(self, a, a_ns, a_addr, b, b_ns, b_addr):
        run(["ip", "link", "add", a, "type", "veth", "peer", "name", b])
        for name, ns, addr in ((a, a_ns, a_addr), (b, b_ns, b_addr)):
            prefix = []
            if ns:
                run(["ip", "link", "set", name, "netns", ns])
                prefix = ["-n", ns]
            run(["ip", *prefix, "addr", "add", addr, "dev", name])
            run(["ip", *prefix, "link", "set", name, "up"])

    def set_link(self, host, up):
        ns, interface = next(link for link in self.links if link[0] == self.ns[host])
        run(["ip", "-n", ns, "link", "set", interface, "up" if up else "down"])

    # ---- PostgreSQL ------------------------------------------------------------------------

    @staticmethod
    def postgres_bin():
        found = shutil.which("initdb")
        if found:
            return os.path.dirname(os.path.realpath(found))
        versions = sorted((int(v) for v in os.listdir("/usr/lib/postgresql") if v.isdigit()), reverse=True)
        return f"/usr/lib/postgresql/{versions[0]}/bin"

    def as_postgres(self, *argv):
        return ["runuser", "-u", "postgres", "--", *argv]

    def start_postgres(self):
        data = os.path.join(self.work, "pg")
        pwfile = os.path.join(self.work, "pgpass")
        with open(pwfile, "w") as f:
            f.write(self.password)
        shutil.chown(pwfile, "postgres")
        os.makedirs(data)
        shutil.chown(data, "postgres")
        run(self.as_postgres(f"{self.pg_bin}/initdb", "-D", data, "-U", "flowforge", "--auth=scram-sha-256",
                             f"--pwfile={pwfile}", "-E", "UTF8", "--no-locale", "--no-sync"))
        with open(os.path.join(data, "pg_hba.conf"), "a") as f:
            f.write("host all flowforge 10.213.0.0/16 scram-sha-256\n")
        self.pg_data = data
        self.pg_ctl("start")
        run([f"{self.pg_bin}/psql", self.url("postgres"), "-qc", "CREATE DATABASE flowforge"])

    def pg_ctl(self, *action):
        listen = ",".join(f"10.213.{k}.1" for k in (1, 2, 3, 9))
        options = f"-p 5432 -c listen_addresses='{listen}' -c unix_socket_directories='' -c max_connections=300"
        self.netns("db", *self.as_postgres(f"{self.pg_bin}/pg_ctl", "-D", self.pg_data, "-l", os.path.join(self.pg_data, "postgres.log"),
                                           "-w", "-t", "60", "-o", options, *action))

    def url(self, database="flowforge", host="10.213.9.1"):
        return f"postgres://flowforge:{self.password}@{host}:5432/{database}"

    def sql(self, query):
        """Rows of a query, as lists of strings, run from the root namespace."""
        out = run([f"{self.pg_bin}/psql", self.url(), "-AtF", "\t", "-v", "ON_ERROR_STOP=1", "-c", query]).stdout
        return [line.split("\t") for line in out.splitlines() if line]

    def scalar(self, query):
        return self.sql(query)[0][0]

    # ---- FlowForge processes -------------------------------------------------------------------

    def spawn(self, name, host, program, extra_env):
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "FLOWFORGE_LOG_LEVEL": "notice",
            "FLOWFORGE_SQL_DIR": self.sql_dir,
            **extra_env,
        }
        argv = [f"{self.bin}/{program}"]
        if host:
            argv = ["ip", "netns", "exec", self.ns[host], *argv]
        logfile = open(os.path.join(self.work, f"{name}.log"), "a")
        self.logs[name] = logfile.name
        process = subprocess.Popen(argv, env=env, stdout=logfile, stderr=subprocess.STDOUT, start_new_session=True)
        self.processes[name] = (process, argv, env)
        return process

    def respawn(self, name):
        process, argv, env = self.processes[name]
        logfile = open(self.logs[name], "a")
        self.processes[name] = (subprocess.Popen(argv, env=env, stdout=logfile, stderr=subprocess.STDOUT, start_new_session=True), argv, env)

    def pid(self, name):
        return self.processes[name][0].pid

    def signal(self, name, sig):
        os.kill(self.pid(name), sig)

    def start_flowforge(self):
        migrate = run([f"{self.bin}/flowforge", "migrate"], env={**os.environ, "DATABASE_URL": self.url(), "FLOWFORGE_SQL_DIR": self.sql_dir})
        log(migrate.stdout.strip().replace("\n", "; "))
        self.api_port = free_port()
        self.spawn("api", None, "flowforge-api", {
            "DATABASE_URL": self.url(), "FLOWFORGE_API_TOKEN": self.token,
            "FLOWFORGE_HTTP_HOST": "127.0.0.1", "FLOWFORGE_HTTP_PORT": str(self.api_port)})
        for k, host in ((1, "h1"), (2, "h2")):
            self.spawn(f"{host}-scheduler", host, "flowforge-scheduler", {"DATABASE_URL": self.url(host=f"10.213.{k}.1")})
        for k, host in ((1, "h1"), (2, "h2"), (3, "h3")):
            self.spawn(f"{host}-worker", host, "flowforge-worker", {
                "DATABASE_URL": self.url(host=f"10.213.{k}.1"), "FLOWFORGE_WORKER_ID": f"{host}-worker",
                "FLOWFORGE_WORKER_CONCURRENCY": "16", "FLOWFORGE_WORKER_LEASE_SECONDS": str(LEASE_SECONDS),
                "FLOWFORGE_WORKER_SHUTDOWN_GRACE_SECONDS": "2"})
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.api("GET", "/readyz", auth=False)[0] == 200:
                return
            time.sleep(0.2)
        raise SystemExit("the API did not become ready within 60 s")

    def api(self, method, path, body=None, auth=True):
        request = urllib.request.Request(f"http://127.0.0.1:{self.api_port}{path}", method=method,
                                         data=None if body is None else json.dumps(body).encode())
        request.add_header("Content-Type", "application/json")
        if auth:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(errors="replace")
        except (urllib.error.URLError, OSError) as error:
            return 0, str(error)

    def close(self):
        for process, _, _ in self.processes.values():
            if process.poll() is None:
                try:
                    os.kill(process.pid, signal.SIGCONT)
                    process.terminate()
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 10
        for process, _, _ in self.processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if getattr(self, "pg_data", None):
            subprocess.run(self.as_postgres(f"{self.pg_bin}/pg_ctl", "-D", self.pg_data, "-m", "immediate", "-w", "stop"),
                           capture_output=True)
        for ns in self.ns.values():
            # Whatever still runs in a namespace (a step a SIGKILLed worker left behind) goes too.
            pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        subprocess.run(["ip", "link", "del", f"v{self.tag}r9"], capture_output=True)
        shutil.rmtree(self.work, ignore_errors=True)


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def preflight():
    """None when this machine can run the test, else why not."""
    if os.geteuid() != 0:
        return "needs root to create network namespaces (run `sudo make test`)"
    if not shutil.which("ip"):
        return "needs iproute2's `ip` (apt-get install iproute2)"
    probe = f"ffprobe{os.getpid()}"
    result = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if result.returncode != 0:
        return f"cannot create a network namespace here: {result.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    if "10.213." in subprocess.run(["ip", "route"], capture_output=True, text=True).stdout:
        return "10.213.0.0/16 is already routed on this machine; the test needs it free"
    return None


class Scenario:
    def __init__(self, cluster):
        self.c = cluster
        self.manual_ids = set()
        self.failed_requests = []
        self.held = {}             # fault -> [(execution id, attempt)] held by the stalled worker
        self.reconnect = {}        # process -> seconds after PostgreSQL was back
        self.events = []
        self.diagnosis = []        # what was stuck, printed last on a failure (CI shows the end of the output)

    def note(self, text):
        self.events.append((time.monotonic(), text))
        log(text)

    def load(self):
        c = self.c
        for i in range(SCHEDULED_TRIGGERS):
            status, body = c.api("POST", "/api/workflows", {
                "name": f"every-minute-{i:03}", "max_attempts": 5, "steps": [{"name": "s", "kind": "shell", "command": STEP}],
                "triggers": [{"trigger_type": "scheduled", "cron_expression": "* * * * *"}]})
            assert status == 201, (status, body)
        self.upstream = []
        for i in range(CHAINS):
            status, up = c.api("POST", "/api/workflows", {
                "name": f"up-{i:02}", "max_attempts": 5, "overlap_policy": "queue", "max_concurrent_runs": 2,
                "steps": [{"name": "s", "kind": "shell", "command": STEP}]})
            assert status == 201, (status, up)
            status, down = c.api("POST", "/api/workflows", {
                "name": f"down-{i:02}", "max_attempts": 5, "overlap_policy": "allow",
                "steps": [{"name": "s", "kind": "shell", "command": STEP}],
                "triggers": [{"trigger_type": "dependency", "depends_on_workflow_id": up["id"], "dependency_condition": "on_completion"}]})
            assert status == 201, (status, down)
            self.upstream.append(up["id"])
        self.loaded_at = self.db_now()
        log(f"loaded {SCHEDULED_TRIGGERS} every-minute triggers and {CHAINS} upstream→downstream pairs")

    def db_now(self):
        return datetime.fromisoformat(self.c.scalar("SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US+00:00')"))

    def held_by(self, worker):
        return [(int(i), int(a)) for i, a in self.c.sql(f"SELECT execution_id, attempt FROM flowforge.jobs WHERE locked_by = '{worker}'")]

    def wait_holding(self, worker, limit=10):
        """Waits (up to `limit` s) until `worker` holds at least one run, so a fault hits it mid-step."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if self.held_by(worker):
                return
            time.sleep(0.05)

    def drive(self):
        """Enqueues the manual runs at an even pace and fires the faults on the way."""
        c = self.c
        faults = [
            (8, self.kill_worker), (11, lambda: self.restart("h1-worker")),
            (16, self.kill_scheduler), (30, lambda: self.restart("h1-scheduler")),
            (24, self.stop_worker), (24 + STALL_SECONDS, self.continue_worker),
            (42, self.cut_link), (42 + STALL_SECONDS, self.restore_link),
            (62, self.restart_postgres),
        ]
        faults.sort(key=lambda f: f[0])
        start = time.monotonic()
        interval = ENQUEUE_SECONDS / MANUAL_RUNS
        sent = 0
        while sent < MANUAL_RUNS or faults:
            elapsed = time.monotonic() - start
            while faults and faults[0][0] <= elapsed:
                faults.pop(0)[1]()
                elapsed = time.monotonic() - start
            if sent < MANUAL_RUNS and sent * interval <= elapsed:
                workflow = self.upstream[sent % CHAINS]
                status, body = c.api("POST", f"/api/workflows/{workflow}/run")
                if status == 201:
                    self.manual_ids.add(body["id"])
                else:
                    self.failed_requests.append((status, str(body)[:200]))
                sent += 1
            else:
                time.sleep(0.005)

    # ---- faults ----------------------------------------------------------------------------

    def kill_worker(self):
        self.wait_holding("h1-worker")
        self.held["SIGKILL h1-worker"] = self.held_by("h1-worker")
        self.c.signal("h1-worker", signal.SIGKILL)
        self.c.processes["h1-worker"][0].wait()
        self.note(f"SIGKILL h1-worker holding {len(self.held['SIGKILL h1-worker'])} runs mid-step")

    def restart(self, name):
        self.c.respawn(name)
        self.note(f"started {name} again")

    def kill_scheduler(self):
        self.c.signal("h1-scheduler", signal.SIGKILL)
        self.c.processes["h1-scheduler"][0].wait()
        self.note("SIGKILL h1-scheduler")

    def stop_worker(self):
        self.wait_holding("h2-worker")
        self.c.signal("h2-worker", signal.SIGSTOP)
        time.sleep(0.5)   # a commit already on its way lands; what is left is held by a stopped process
        self.held["SIGSTOP h2-worker"] = self.held_by("h2-worker")
        self.note(f"SIGSTOP h2-worker holding {len(self.held['SIGSTOP h2-worker'])} runs, for {STALL_SECONDS} s (lease {LEASE_SECONDS} s)")

    def continue_worker(self):
        self.c.signal("h2-worker", signal.SIGCONT)
        self.note("SIGCONT h2-worker")

    def cut_link(self):
        self.wait_holding("h3-worker")
        self.c.set_link("h3", up=False)
        time.sleep(0.5)
        self.held["link down h3"] = self.held_by("h3-worker")
        self.note(f"link of h3 down, its worker holding {len(self.held['link down h3'])} runs, for {STALL_SECONDS} s")

    def restore_link(self):
        self.c.set_link("h3", up=True)
        self.note("link of h3 up")

    def restart_postgres(self):
        self.c.pg_ctl("-m", "fast", "restart")
        back = time.monotonic()
        self.note("PostgreSQL restarted (fast shutdown)")
        expected = {
            "api": ("flowforge-api", "10.213.9.2"),
            "h1-scheduler": ("flowforge-scheduler", "10.213.1.2"),
            "h2-scheduler": ("flowforge-scheduler", "10.213.2.2"),
            "h1-worker": ("flowforge-worker h1-worker", "10.213.1.2"),
            "h2-worker": ("flowforge-worker h2-worker", "10.213.2.2"),
            "h3-worker": ("flowforge-worker h3-worker", "10.213.3.2"),
        }
        waiting = dict(expected)
        while waiting and time.monotonic() - back < 30:
            self.c.api("GET", "/readyz", auth=False)   # the API connects when asked, like any request would make it
            rows = self.c.sql("SELECT DISTINCT application_name, host(client_addr) FROM pg_stat_activity WHERE datname = 'flowforge'")
            seen = {(name, addr) for name, addr in rows}
            for process, key in list(waiting.items()):
                if key in seen:
                    self.reconnect[process] = time.monotonic() - back
                    del waiting[process]
            time.sleep(0.1)
        for process in waiting:
            self.reconnect[process] = None
        self.note("reconnected after the restart: " + ", ".join(
            f"{p} {'never' if s is None else f'{s:.1f} s'}" for p, s in sorted(self.reconnect.items())))

    # ---- the end ------------------------------------------------------------------------------

    def finish(self):
        """Lets the last minute's runs happen, stops the schedules, and waits for the queue to empty."""
        now = self.db_now()
        # The last whole minute every trigger must have run for: the next boundary after now.
        self.last_minute = now.replace(second=0, microsecond=0).timestamp() + 60
        wait = self.last_minute - now.timestamp() + 3
        log(f"waiting {wait:.0f} s for the minute {datetime.fromtimestamp(self.last_minute, timezone.utc):%H:%M} to be run")
        time.sleep(wait)
        self.c.sql("UPDATE flowforge.workflow_triggers SET enabled = false WHERE trigger_type = 'scheduled'")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            pending = int(self.c.scalar(
                f"SELECT count(*) FROM flowforge.jobs j JOIN flowforge.executions e ON e.id = j.execution_id "
                f"WHERE e.scheduled_for IS NULL OR e.scheduled_for <= to_timestamp({self.last_minute})"))
            uncascaded = int(self.c.scalar(
                "SELECT count(*) FROM flowforge.executions e JOIN flowforge.workflows w ON w.id = e.workflow_id "
                "WHERE w.name LIKE 'up-%' AND (e.cascaded_at IS NULL OR e.finished_at IS NULL)"))
            if pending == 0 and uncascaded == 0:
                return
            time.sleep(0.5)
        # What is stuck, and who holds it, for whoever reads the failure.
        for row in self.c.sql(
                "SELECT e.id, w.name, e.status, e.attempt, coalesce(e.worker_id, '-'), coalesce(j.locked_by, '-'), "
                "coalesce(to_char(j.lease_expires_at - now(), 'SS.MS'), '-'), coalesce(to_char(now() - j.run_at, 'MI:SS'), '-'), "
                "j.limited, coalesce(e.error, '') FROM flowforge.jobs j JOIN flowforge.executions e ON e.id = j.execution_id "
                "JOIN flowforge.workflows w ON w.id = e.workflow_id ORDER BY e.id LIMIT 30"):
            self.diagnosis.append("pending: id={} workflow={} status={} attempt={} worker={} locked_by={} lease_left={} due_for={} limited={} error={}".format(*row))
        for row in self.c.sql(
                "SELECT e.status, e.finished_at IS NOT NULL, EXISTS (SELECT 1 FROM flowforge.cascade_backlog b WHERE b.execution_id = e.id), "
                "count(*), min(e.id), coalesce(min(e.error), '') FROM flowforge.executions e JOIN flowforge.workflows w ON w.id = e.workflow_id "
                "WHERE w.name LIKE 'up-%' AND (e.cascaded_at IS NULL OR e.finished_at IS NULL) GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"):
            self.diagnosis.append("not cascaded: status={} finished={} in_backlog={} count={} first_id={} error={}".format(*row))
        for row in self.c.sql("SELECT application_name, host(client_addr), state, left(query, 60), to_char(now() - state_change, 'MI:SS') "
                              "FROM pg_stat_activity WHERE datname = 'flowforge' ORDER BY 1"):
            self.diagnosis.append("connection: " + " | ".join(row))
        raise AssertionError(f"runs still pending 120 s after the load ended: {pending} queued or running, {uncascaded} not cascaded")

    def check(self):
        c = self.c
        failures = []

        def expect(condition, message):
            if not condition:
                failures.append(message)

        for name, (process, _, _) in c.processes.items():
            expect(process.poll() is None, f"{name} exited with {process.returncode}")
        expect(not self.failed_requests, f"{len(self.failed_requests)} Run now requests failed: {self.failed_requests[:3]}")
        expect(len(self.manual_ids) == MANUAL_RUNS, f"{len(self.manual_ids)} of {MANUAL_RUNS} Run now requests answered 201")

        last = f"to_timestamp({self.last_minute})"
        # Every minute boundary after a trigger was created, up to the last one, once.
        expected_scheduled = int(c.scalar(f"""
            SELECT coalesce(sum(
                floor(extract(epoch FROM {last}) / 60) - floor(extract(epoch FROM t.created_at) / 60)), 0)::bigint
            FROM flowforge.workflow_triggers t WHERE t.trigger_type = 'scheduled'"""))
        rows = c.sql(f"""
            SELECT e.trigger_type, count(*), count(*) FILTER (WHERE e.status = 'completed'), count(*) FILTER (WHERE e.attempt > 1),
                   count(*) FILTER (WHERE e.status NOT IN ('completed', 'failed', 'cancelled', 'skipped'))
            FROM flowforge.executions e
            WHERE e.trigger_type <> 'scheduled' OR e.scheduled_for <= {last}
            GROUP BY 1""")
        stats = {kind: [int(x) for x in rest] for kind, *rest in rows}
        duplicates = {
            "scheduled": int(c.scalar("SELECT count(*) FROM (SELECT 1 FROM flowforge.executions WHERE trigger_type = 'scheduled' "
                                      "GROUP BY trigger_id, scheduled_for HAVING count(*) > 1) d")),
            "dependency": int(c.scalar("SELECT count(*) FROM (SELECT 1 FROM flowforge.executions WHERE trigger_type = 'dependency' "
                                       "GROUP BY upstream_execution_id HAVING count(*) > 1) d")),
            "manual": 0,
        }
        expected = {"manual": MANUAL_RUNS, "dependency": MANUAL_RUNS, "scheduled": expected_scheduled}
        missing_minutes = int(c.scalar(f"""
            SELECT count(*) FROM flowforge.workflow_triggers t
            CROSS JOIN LATERAL generate_series(date_trunc('minute', t.created_at) + interval '1 minute', {last}, interval '1 minute') AS m
            WHERE t.trigger_type = 'scheduled' AND NOT EXISTS (
                SELECT 1 FROM flowforge.executions e WHERE e.trigger_id = t.id AND e.scheduled_for = m)"""))
        orphans = int(c.scalar("""
            SELECT count(*) FROM flowforge.executions e JOIN flowforge.workflows w ON w.id = e.workflow_id
            WHERE w.name LIKE 'up-%' AND NOT EXISTS (
                SELECT 1 FROM flowforge.executions d WHERE d.upstream_execution_id = e.id AND d.trigger_type = 'dependency')"""))
        unknown_manual = int(c.scalar(
            f"SELECT count(*) FROM flowforge.executions WHERE trigger_type = 'manual' AND NOT (id = ANY('{{{','.join(map(str, self.manual_ids)) or 0}}}'::bigint[]))"))
        running_unleased = int(c.scalar("""
            SELECT count(*) FROM flowforge.executions e WHERE e.status = 'running' AND NOT EXISTS (
                SELECT 1 FROM flowforge.jobs j WHERE j.execution_id = e.id AND j.locked_by IS NOT NULL AND j.lease_expires_at > now())"""))
        # The recorded result is the last attempt's: a late word from a stalled worker about an
        # earlier attempt would leave an output naming that attempt.
        wrong_attempt = c.sql("""
            SELECT id, attempt, steps->0->>'output' FROM flowforge.executions
            WHERE status = 'completed' AND steps->0->>'output' IS DISTINCT FROM 'attempt=' || attempt || E'\\n' LIMIT 5""")

        print()
        print("| runs | expected | created | completed | retried | duplicates | lost |")
        print("|---|---|---|---|---|---|---|")
        totals = [0] * 6
        for kind in ("manual", "dependency", "scheduled"):
            created, completed, retried, unfinished = stats.get(kind, [0, 0, 0, 0])
            lost = max(0, expected[kind] - (created - duplicates[kind])) + unfinished
            row = [expected[kind], created, completed, retried, duplicates[kind], lost]
            totals = [a + b for a, b in zip(totals, row)]
            print(f"| {kind} | " + " | ".join(f"{v:,}" for v in row) + " |")
            expect(created == expected[kind], f"{kind}: {created} runs created, {expected[kind]} expected")
            expect(completed == created, f"{kind}: {completed} of {created} runs completed")
            expect(duplicates[kind] == 0, f"{kind}: {duplicates[kind]} duplicated runs")
            expect(unfinished == 0, f"{kind}: {unfinished} runs not in a final state")
        print("| all | " + " | ".join(f"{v:,}" for v in totals) + " |")
        print()
        rescues = 0
        for fault, held in self.held.items():
            ids = [i for i, _ in held]
            if not ids:
                continue
            attempts = dict(held)
            rows = c.sql(f"SELECT id, attempt FROM flowforge.executions WHERE id = ANY('{{{','.join(map(str, ids))}}}'::bigint[])")
            rescued = sum(1 for i, a in rows if int(a) > attempts[int(i)])
            # A run whose job was locked by a transaction the stalled worker still had open could
            # not be rescued (SKIP LOCKED), so that worker finished it when it came back. Either
            # way the result recorded is the last attempt's (checked for every run below).
            print(f"{fault}: held {len(held)} runs; {rescued} rescued and rerun as a later attempt, "
                  f"{len(held) - rescued} finished by the stalled worker itself (their jobs were locked in its open transaction)")
            rescues += rescued
        expect(rescues > 0, "no run held by a stalled or killed worker was rescued")
        for process, seconds in sorted(self.reconnect.items()):
            expect(seconds is not None and seconds <= RECONNECT_LIMIT,
                   f"{process} reconnected {'never' if seconds is None else f'after {seconds:.1f} s'} (limit {RECONNECT_LIMIT:.0f} s)")
        expect(missing_minutes == 0, f"{missing_minutes} (trigger, minute) pairs have no run")
        expect(orphans == 0, f"{orphans} upstream runs have no dependency run")
        expect(unknown_manual == 0, f"{unknown_manual} manual runs were created that no Run now answered for")
        expect(running_unleased == 0, f"{running_unleased} runs are running without a live lease")
        expect(not wrong_attempt, f"results that are not their last attempt's: {wrong_attempt}")
        expect(int(c.scalar("SELECT count(*) FROM flowforge.jobs j JOIN flowforge.executions e ON e.id = j.execution_id "
                            f"WHERE e.scheduled_for IS NULL OR e.scheduled_for <= {last}")) == 0, "jobs left in the queue")
        print(f"missed minutes {missing_minutes}, upstream runs without their cascade {orphans}, "
              f"running without a live lease {running_unleased}, results not from the last attempt {len(wrong_attempt)}")
        # How often a process gave up on a database call that did not answer (a connection left
        # hanging by the cut link or the restart): it then leaves the work to lease rescue.
        abandoned = {}
        for name, path in c.logs.items():
            with open(path, errors="replace") as f:
                count = sum(1 for line in f if "no answer from the database within" in line)
            if count:
                abandoned[name] = count
        print("database calls abandoned at their deadline: " + (", ".join(f"{n} {k}" for n, k in sorted(abandoned.items())) or "none"))
        print("reconnected within: " + ", ".join(f"{p} {s:.1f} s" if s is not None else f"{p} never" for p, s in sorted(self.reconnect.items())))
        return failures


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    parser.add_argument("--bin", default=os.path.join(repo, ".build", "debug"), help="where flowforge-* are")
    args = parser.parse_args()
    reason = preflight()
    if reason:
        log(f"skipped: {reason}")
        return 0
    cluster = Cluster(args.bin, os.path.join(repo, "sql"))
    def interrupted(*_):
        raise KeyboardInterrupt()
    signal.signal(signal.SIGTERM, interrupted)
    started = time.monotonic()
    failures = ["did not finish"]
    scenario = None
    try:
        cluster.build_network()
        cluster.start_postgres()
        cluster.start_flowforge()
        scenario = Scenario(cluster)
        scenario.load()
        scenario.drive()
        scenario.finish()
        failures = scenario.check()
    except (subprocess.CalledProcessError) as error:
        failures = [f"{' '.join(error.cmd)} failed: {error.stderr.strip()}"]
    except AssertionError as error:
        failures = [str(error)]
    except KeyboardInterrupt:
        failures = ["interrupted"]
    finally:
        if failures:
            for name, path in cluster.logs.items():
                try:
                    lines = open(path, errors="replace").read().splitlines()
                except OSError:
                    lines = []
                tail = lines[-8:]
                warnings = [line for line in lines if " warning " in line or " error " in line or " critical " in line][-5:]
                print(f"--- {name} (last warnings) ---\n" + "\n".join(warnings))
                # A crash's report ends in pages of loaded libraries: its first lines say what failed.
                crash = next((i for i, line in enumerate(lines) if "Fatal error" in line or "💣" in line
                              or "Precondition failed" in line or "Crash" in line), None)
                if crash is not None:
                    print(f"--- {name} (crash) ---\n" + "\n".join(lines[crash:crash + 25]))
                print(f"--- {name} (last lines) ---\n" + "\n".join(tail))
            for line in scenario.diagnosis if scenario else []:
                log(line)
        cluster.close()
    if failures:
        for failure in failures:
            print(f"multihost: FAIL: {failure}")
        return 1
    log(f"passed in {time.monotonic() - started:.0f} s; every namespace, process and file it made is gone")
    return 0


if __name__ == "__main__":
    sys.exit(main())
