"""FlowForge's own rules for deploy/, which no schema knows. Run by deploy/validate.sh.

Usage: python check_rules.py DEPLOY_DIR
Prints one line per broken rule and exits 1, or prints nothing and exits 0.
"""

import pathlib
import re
import sys
import urllib.parse

import yaml

# The 5 s a step gets between SIGTERM and SIGKILL, plus time to hand runs back.
SHUTDOWN_MARGIN_SECONDS = 10

# What the worker may do besides what any user may: start steps as FLOWFORGE_STEP_USER
# (SETUID, SETGID), signal their processes (KILL), hand them their files (CHOWN).
WORKER_CAPABILITIES = {"SETUID", "SETGID", "KILL", "CHOWN"}
# Settings that hold secrets: they reach the processes as files (<name>_FILE), never as
# variables, which every child process (every step) would inherit.
SECRET_SETTINGS = ("DATABASE_URL", "FLOWFORGE_API_TOKEN", "FLOWFORGE_SECRET_KEY")
# Roles that are the server's superuser, never FlowForge's.
SUPERUSERS = {"postgres"}
FLOWFORGE_EXECUTABLES = ("flowforge", "flowforge-api", "flowforge-scheduler", "flowforge-worker")

deploy = pathlib.Path(sys.argv[1])
problems = []


def problem(path, message):
    problems.append(f"{path.relative_to(deploy.parent)}: {message}")


def env_value(container, name):
    for item in container.get("env", []):
        if item.get("name") == name:
            return item.get("value")
    return None


def args_of(container):
    return container.get("args", [])


def database_user(url):
    return urllib.parse.unquote(urllib.parse.urlsplit(url).username or "")


def seconds(text):
    """Compose durations as used here: 45s, 1m30s, 90."""
    text = str(text)
    if text.isdigit():
        return int(text)
    match = re.fullmatch(r"(?:(\d+)m)?(?:(\d+)s)?", text)
    if not match or not any(match.groups()):
        return None
    return int(match.group(1) or 0) * 60 + int(match.group(2) or 0)


def check_secret_files(path, name, pod, is_worker):
    """Secrets come from Secret volumes readable by the process's user alone, never from env."""
    security = pod.get("securityContext", {})
    secret_mounts = {}
    volumes = {volume.get("name"): volume for volume in pod.get("volumes", [])}
    for volume_name, volume in volumes.items():
        secret = volume.get("secret")
        if secret is None:
            continue
        mode = secret.get("defaultMode", 0o644)
        if is_worker and mode != 0o400:
            problem(path, f"{name}: volume {volume_name}: the worker's secret files must have defaultMode 0400 (root's alone)")
        elif not is_worker and (mode not in (0o400, 0o440) or (mode == 0o440 and "fsGroup" not in security)):
            problem(path, f"{name}: volume {volume_name}: secret files must have defaultMode 0400, or 0440 with the pod's fsGroup")
        if is_worker and "fsGroup" in security:
            problem(path, f"{name}: the worker's pod must set no fsGroup (it would give a group the secret files)")
        if any("mode" in item for item in secret.get("items", [])):
            problem(path, f"{name}: volume {volume_name}: set defaultMode only, no mode per item")
    for container in pod.get("initContainers", []) + pod.get("containers", []):
        where = f"{name}/{container.get('name')}"
        for mount in container.get("volumeMounts", []):
            if mount.get("name") in volumes and "secret" in volumes[mount.get("name")]:
                secret_mounts[mount.get("mountPath", "").rstrip("/")] = mount.get("name")
        for source in container.get("envFrom", []):
            if "secretRef" in source:
                problem(path, f"{where}: envFrom secretRef puts secrets into the environment; mount the Secret as files")
        for item in container.get("env", []):
            variable = item.get("name")
            if "secretKeyRef" in item.get("valueFrom", {}):
                problem(path, f"{where}: env {variable} comes from a Secret; mount the Secret and set {variable}_FILE")
            if variable in SECRET_SETTINGS:
                problem(path, f"{where}: env {variable} holds a secret; give {variable}_FILE, a file from a Secret volume")
            if variable and variable.endswith("_FILE") and variable[:-5] in SECRET_SETTINGS:
                folder = str(pathlib.PurePosixPath(item.get("value", "/")).parent)
                if folder not in secret_mounts:
                    problem(path, f"{where}: {variable} must name a file in a mounted Secret volume")


def check_pod(path, name, pod):
    security = pod.get("securityContext", {})
    containers = pod.get("initContainers", []) + pod.get("containers", [])
    is_worker = any(container.get("args", [])[:1] == ["flowforge-worker"] for container in containers)
    if is_worker:
        # Root, so that it can switch to FLOWFORGE_STEP_USER; its capabilities are checked below.
        if security.get("runAsUser") != 0:
            problem(path, f"{name}: the worker's pod runs as root (runAsUser: 0) to start steps as FLOWFORGE_STEP_USER")
    elif security.get("runAsNonRoot") is not True:
        problem(path, f"{name}: pod securityContext.runAsNonRoot must be true")
    check_secret_files(path, name, pod, is_worker)
    if pod.get("automountServiceAccountToken") is not False:
        problem(path, f"{name}: automountServiceAccountToken must be false")
    for container in pod.get("initContainers", []) + pod.get("containers", []):
        where = f"{name}/{container.get('name')}"
        if "command" in container:
            problem(path, f"{where}: set args, not command (command replaces the image's tini entrypoint)")
        resources = container.get("resources", {})
        for kind in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                if resource not in resources.get(kind, {}):
                    problem(path, f"{where}: no resources.{kind}.{resource}")
        context = container.get("securityContext", {})
        if context.get("allowPrivilegeEscalation") is not False:
            problem(path, f"{where}: allowPrivilegeEscalation must be false")
        if context.get("readOnlyRootFilesystem") is not True:
            problem(path, f"{where}: readOnlyRootFilesystem must be true")
        capabilities = context.get("capabilities", {})
        if "ALL" not in capabilities.get("drop", []):
            problem(path, f"{where}: capabilities must drop ALL")
        added = set(capabilities.get("add", []))
        if args_of(container)[:1] == ["flowforge-worker"]:
            if added != WORKER_CAPABILITIES:
                problem(path, f"{where}: the worker must add exactly {', '.join(sorted(WORKER_CAPABILITIES))} to its capabilities")
            if not env_value(container, "FLOWFORGE_STEP_USER"):
                problem(path, f"{where}: set FLOWFORGE_STEP_USER, so that steps do not run as root")
        elif added:
            problem(path, f"{where}: capabilities must add nothing (only the worker adds {', '.join(sorted(WORKER_CAPABILITIES))})")
        ports = {port.get("name"): port.get("containerPort") for port in container.get("ports", [])}
        if "metrics" in ports and env_value(container, "FLOWFORGE_METRICS_PORT") != str(ports["metrics"]):
            problem(path, f"{where}: port metrics is {ports['metrics']} but FLOWFORGE_METRICS_PORT is not set to it")
        args = container.get("args", [])
        if args and args[0] in ("flowforge-api", "flowforge-scheduler", "flowforge-worker"):
            if "livenessProbe" not in container:
                problem(path, f"{where}: no livenessProbe")
        if args[:1] == ["flowforge-api"]:
            if container.get("readinessProbe", {}).get("httpGet", {}).get("path") != "/readyz":
                problem(path, f"{where}: readinessProbe must ask /readyz")
        if args[:1] == ["flowforge-worker"]:
            grace = env_value(container, "FLOWFORGE_WORKER_SHUTDOWN_GRACE_SECONDS")
            if grace is None:
                problem(path, f"{where}: set FLOWFORGE_WORKER_SHUTDOWN_GRACE_SECONDS explicitly")
            elif pod.get("terminationGracePeriodSeconds", 30) < int(grace) + SHUTDOWN_MARGIN_SECONDS:
                problem(path, f"{where}: terminationGracePeriodSeconds must be at least "
                              f"FLOWFORGE_WORKER_SHUTDOWN_GRACE_SECONDS + {SHUTDOWN_MARGIN_SECONDS}")


manifests = sorted(p for p in (deploy / "k8s").glob("*.yaml") if p.name not in ("kustomization.yaml", "secret.yaml"))
for path in manifests:
    for document in yaml.safe_load_all(path.read_text()):
        if not document:
            continue
        kind, name = document.get("kind"), document.get("metadata", {}).get("name")
        if kind != "Namespace" and document.get("metadata", {}).get("namespace") != "flowforge":
            problem(path, f"{kind}/{name}: metadata.namespace must be flowforge")
        if kind in ("Deployment", "Job"):
            check_pod(path, f"{kind}/{name}", document["spec"]["template"]["spec"])

# The operator's one-off files: the Secrets' example, and the Job that needs an administrator.
NOT_IN_KUSTOMIZATION = {"secret.example.yaml", "database-role-job.yaml"}
kustomization = deploy / "k8s" / "kustomization.yaml"
listed = set(yaml.safe_load(kustomization.read_text()).get("resources", []))
expected = {p.name for p in manifests} - NOT_IN_KUSTOMIZATION
for missing in sorted(expected - listed):
    problem(kustomization, f"resources does not list {missing}")
for extra in sorted(listed - expected):
    problem(kustomization, f"resources lists {extra}, which is not a manifest here (or is one to apply by hand)")

secret_example = deploy / "k8s" / "secret.example.yaml"
for document in yaml.safe_load_all(secret_example.read_text()):
    if document and document.get("kind") == "Secret" and document["metadata"]["name"] == "flowforge":
        url = document.get("stringData", {}).get("DATABASE_URL", "")
        if database_user(url) in SUPERUSERS or not database_user(url):
            problem(secret_example, f"DATABASE_URL connects as {database_user(url) or 'nobody'}: FlowForge's own role, never a superuser")

compose_path = deploy / "compose.yaml"
compose = yaml.safe_load(compose_path.read_text())
services = compose.get("services", {})
worker = services.get("worker", {})
secrets = compose.get("secrets", {})
env_example = {}
for line in (deploy / ".env.example").read_text().splitlines():
    if "=" in line and not line.lstrip().startswith("#"):
        key, value = line.split("=", 1)
        env_example[key.strip()] = value.strip()

# The server's superuser is never the role FlowForge connects as.
superusers = SUPERUSERS | {services.get("postgres", {}).get("environment", {}).get("POSTGRES_USER", "postgres")}
url_variable = secrets.get("database_url", {}).get("environment")
url = env_example.get(url_variable or "", "")
if database_user(url) in superusers or not database_user(url):
    problem(compose_path, f"the secret database_url ({url_variable} in .env.example) connects as "
                          f"{database_user(url) or 'nobody'}: FlowForge's own role, never the superuser")

for service_name, service in services.items():
    command = service.get("command", [])
    if command[:1] == [] or command[0] not in FLOWFORGE_EXECUTABLES:
        continue
    environment = service.get("environment", {})
    for variable in SECRET_SETTINGS:
        if variable in environment:
            problem(compose_path, f"{service_name}: environment {variable} holds a secret; give {variable}_FILE and a secret")
    mounted = {}
    for entry in service.get("secrets", []):
        entry = {"source": entry} if isinstance(entry, str) else entry
        target = entry.get("target", entry.get("source"))
        mounted[target if target.startswith("/") else f"/run/secrets/{target}"] = entry
        if entry.get("mode") != 0o400 or "uid" not in entry:
            problem(compose_path, f"{service_name}: secret {entry.get('source')} needs a uid and mode 0400 (its process's alone)")
    for variable, value in environment.items():
        if variable.endswith("_FILE") and variable[:-5] in SECRET_SETTINGS and value not in mounted:
            problem(compose_path, f"{service_name}: {variable} names {value}, which is none of its secrets")
    user = str(service.get("user", "")).split(":")[0]
    if command[0] == "flowforge-worker":
        if user not in ("0", "root"):
            problem(compose_path, "worker: runs as root (user: \"0:0\") to start steps as FLOWFORGE_STEP_USER")
        if service.get("cap_drop") != ["ALL"] or set(service.get("cap_add", [])) != WORKER_CAPABILITIES:
            problem(compose_path, f"worker: cap_drop must be [ALL] and cap_add exactly {', '.join(sorted(WORKER_CAPABILITIES))}")
        if not environment.get("FLOWFORGE_STEP_USER"):
            problem(compose_path, "worker: set FLOWFORGE_STEP_USER, so that steps do not run as root")
        wrong = [entry.get("source") for entry in mounted.values() if str(entry.get("uid")) != "0"]
    else:
        if user in ("", "0", "root"):
            problem(compose_path, f"{service_name}: set user to the image's unprivileged user (10001:10001)")
        if "ALL" not in service.get("cap_drop", []) or service.get("cap_add"):
            problem(compose_path, f"{service_name}: cap_drop must be [ALL], with no cap_add")
        wrong = [entry.get("source") for entry in mounted.values() if str(entry.get("uid")) != user]
    for source in wrong:
        problem(compose_path, f"{service_name}: secret {source} must belong to the user the process runs as")
if "container_name" in worker or "ports" in worker:
    problem(compose_path, "worker must have no container_name and no ports, or --scale worker=N fails")
grace = worker.get("environment", {}).get("FLOWFORGE_WORKER_SHUTDOWN_GRACE_SECONDS")
stop = seconds(worker.get("stop_grace_period", "10s"))
if grace is None:
    problem(compose_path, "worker: set FLOWFORGE_WORKER_SHUTDOWN_GRACE_SECONDS explicitly")
elif stop is None or stop < int(grace) + SHUTDOWN_MARGIN_SECONDS:
    problem(compose_path, f"worker: stop_grace_period must be at least FLOWFORGE_WORKER_SHUTDOWN_GRACE_SECONDS + {SHUTDOWN_MARGIN_SECONDS}s")

for line in problems:
    print(line)
sys.exit(1 if problems else 0)
