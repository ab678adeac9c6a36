"""FlowForge's own rules for deploy/, which no schema knows. Run by deploy/validate.sh.

Usage: python check_rules.py DEPLOY_DIR
Prints one line per broken rule and exits 1, or prints nothing and exits 0.
"""

import pathlib
import re
import sys

import yaml

# The 5 s a step gets between SIGTERM and SIGKILL, plus time to hand runs back.
SHUTDOWN_MARGIN_SECONDS = 10

deploy = pathlib.Path(sys.argv[1])
problems = []


def problem(path, message):
    problems.append(f"{path.relative_to(deploy.parent)}: {message}")


def env_value(container, name):
    for item in container.get("env", []):
        if item.get("name") == name:
            return item.get("value")
    return None


def seconds(text):
    """Compose durations as used here: 45s, 1m30s, 90."""
    text = str(text)
    if text.isdigit():
        return int(text)
    match = re.fullmatch(r"(?:(\d+)m)?(?:(\d+)s)?", text)
    if not match or not any(match.groups()):
        return None
    return int(match.group(1) or 0) * 60 + int(match.group(2) or 0)


def check_pod(path, name, pod):
    security = pod.get("securityContext", {})
    if security.get("runAsNonRoot") is not True:
        problem(path, f"{name}: pod securityContext.runAsNonRoot must be true")
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
        if "ALL" not in context.get("capabilities", {}).get("drop", []):
            problem(path, f"{where}: capabilities must drop ALL")
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

kustomization = deploy / "k8s" / "kustomization.yaml"
listed = set(yaml.safe_load(kustomization.read_text()).get("resources", []))
expected = {p.name for p in manifests} - {"secret.example.yaml"}
for missing in sorted(expected - listed):
    problem(kustomization, f"resources does not list {missing}")
for extra in sorted(listed - expected):
    problem(kustomization, f"resources lists {extra}, which is not a manifest here (or is the example Secret)")

compose_path = deploy / "compose.yaml"
compose = yaml.safe_load(compose_path.read_text())
worker = compose.get("services", {}).get("worker", {})
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
