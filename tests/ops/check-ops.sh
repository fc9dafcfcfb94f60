#!/usr/bin/env bash
# Static checks of the ops configuration, without a Docker engine:
#   * promtool check config on both Prometheus configs, promtool check rules, promtool test rules;
#   * docker/compose.yaml against the official compose-spec JSON schema, plus structural checks
#     (images/builds, depends_on + healthchecks, env vars vs docker/.env.example, mounts, hub
#     settings vs Kafka/ClickHouse/schema-registry listeners and Prometheus targets);
#   * ClickHouse XML, Grafana provisioning (data source UIDs), dashboards/*.json, Dockerfile;
#   * self-tests: the same checks run on deliberately broken copies and must fail.
#
# usage: tests/ops/check-ops.sh
# Needs: promtool (apt-get install -y prometheus) and the dev-tools venv with PyYAML, jsonschema
# and check-jsonschema (devtools/requirements.txt). Override the interpreter with HUB_OPS_PYTHON.
# Prints one line per check and ends with "N passed, M failed"; exits non-zero on any failure.
# CHECK_OPS_VERBOSE=1 also shows why each self-test's broken copy was rejected.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"

python=${HUB_OPS_PYTHON:-${HUB_TOOLS_DIR:-$HOME/.local/share/sourcing-hub}/venv/bin/python}
checker="$root/tests/ops/opscheck.py"

passed=0
failed=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ok() { passed=$((passed + 1)); printf 'ok   %s\n' "$1"; }
fail() { failed=$((failed + 1)); printf 'FAIL %s\n' "$1"; }

# check NAME COMMAND...: passes when COMMAND exits 0; shows its output indented either way
# (only the last lines on success, everything on failure).
check() {
  local name=$1 output status=0
  shift
  output=$("$@" 2>&1) || status=$?
  if [ "$status" -eq 0 ]; then
    ok "$name"
    [ -z "$output" ] || printf '%s\n' "$output" | tail -n 3 | sed 's/^/       /'
  else
    fail "$name (exit $status)"
    printf '%s\n' "$output" | sed 's/^/       /'
  fi
}

# expect_failure NAME COMMAND...: passes when COMMAND fails (a self-test on a broken copy).
expect_failure() {
  local name=$1 status=0
  shift
  "$@" >"$tmp/expect.log" 2>&1 || status=$?
  if [ "$status" -ne 0 ]; then
    ok "$name"
    if [ -n "${CHECK_OPS_VERBOSE:-}" ]; then sed 's/^/       /' "$tmp/expect.log"; fi
  else
    fail "$name: the broken copy was accepted"
    sed 's/^/       /' "$tmp/expect.log"
  fi
}

# --- prerequisites: fail with a clear message, not a stack trace ---------------------------------
prerequisites=ok
if ! command -v promtool >/dev/null 2>&1; then
  fail "promtool is not installed (apt-get install -y prometheus)"
  prerequisites=missing
fi
if [ ! -x "$python" ]; then
  fail "Python dev-tools venv not found at $python (scripts/services install creates it; or set HUB_OPS_PYTHON)"
  prerequisites=missing
else
  for module in yaml:PyYAML jsonschema:jsonschema check_jsonschema:check-jsonschema; do
    if ! "$python" -c "import ${module%%:*}" >/dev/null 2>&1; then
      fail "Python package ${module#*:} is missing in $python: add it to devtools/requirements.txt and reinstall the venv"
      prerequisites=missing
    fi
  done
fi
if [ "$prerequisites" != ok ]; then
  printf '%d passed, %d failed\n' "$passed" "$failed"
  exit 1
fi

# --- Prometheus ----------------------------------------------------------------------------------
check "promtool check config docker/prometheus/prometheus.yml (compose)" \
  promtool check config docker/prometheus/prometheus.yml
check "promtool check config docker/prometheus/prometheus.local.yml (native)" \
  promtool check config docker/prometheus/prometheus.local.yml
check "promtool check rules docker/prometheus/rules/hub.rules.yml" \
  promtool check rules docker/prometheus/rules/hub.rules.yml
check "promtool test rules docker/prometheus/rules/hub.rules.test.yml" \
  promtool test rules docker/prometheus/rules/hub.rules.test.yml
check "every alert has a firing and a quiet unit test, severity and runbook annotations" \
  "$python" "$checker" rules-coverage

# --- compose, ClickHouse, Grafana, dashboards, Dockerfile ----------------------------------------
check "compose.yaml validates against the compose-spec JSON schema" "$python" "$checker" compose-schema
check "compose.yaml variables are documented in .env.example; secrets required, never baked in" \
  "$python" "$checker" compose-env
check "compose.yaml references: images/builds, depends_on + healthchecks, mounts, volumes, ports" \
  "$python" "$checker" compose-refs
check "compose.yaml hub services: HUB_* settings, listeners, migrate first, Prometheus targets" \
  "$python" "$checker" compose-hub
check "ClickHouse XML configuration" "$python" "$checker" clickhouse
check "Grafana provisioning: data source UIDs prometheus + clickhouse, dashboards provider" \
  "$python" "$checker" grafana
check "dashboards/*.json are valid and use provisioned data source UIDs" "$python" "$checker" dashboards
check "Dockerfile and .dockerignore" "$python" "$checker" dockerfile

# --- self-tests: each check must reject a broken copy --------------------------------------------
copy="$tmp/repo"
fresh_copy() {
  rm -rf "$copy"
  mkdir -p "$copy/pipeline/hub" "$copy/tests/ops"
  cp -a docker "$copy/docker"
  if [ -d dashboards ]; then cp -a dashboards "$copy/dashboards"; else mkdir "$copy/dashboards"; fi
  if [ -d config ]; then cp -a config "$copy/config"; fi
  cp .dockerignore Cargo.toml Cargo.lock "$copy/"
  cp pipeline/hub/Cargo.toml "$copy/pipeline/hub/"
}
on_copy() { OPSCHECK_ROOT="$copy" "$python" "$checker" "$@"; }
replace_in() { # file old new: replaces the first occurrence, fails when old is absent
  "$python" - "$@" <<'EOF'
import sys
path, old, new = sys.argv[1:4]
text = open(path, encoding="utf-8").read()
if old not in text:
    sys.exit(f"{path}: text to break not found: {old!r}")
open(path, "w", encoding="utf-8").write(text.replace(old, new, 1))
EOF
}
# self_test NAME FILE OLD NEW CHECK-COMMAND...: breaks FILE in a fresh copy, expects CHECK to fail.
self_test() {
  local name=$1 file=$2 old=$3 new=$4
  shift 4
  fresh_copy
  if ! replace_in "$copy/$file" "$old" "$new" >"$tmp/mutate.log" 2>&1; then
    fail "$name: could not break the copy"
    sed 's/^/       /' "$tmp/mutate.log"
    return 0
  fi
  expect_failure "$name" "$@"
}
nl=$'\n'

self_test "self-test: an unknown service key fails the compose-spec schema" \
  docker/compose.yaml "    hostname: clickhouse$nl" "    hostname: clickhouse$nl    imagee: typo$nl" \
  on_copy compose-schema
self_test "self-test: an undocumented variable and a defaulted secret are rejected" \
  docker/compose.yaml "SCHEMA_REGISTRY_HEAP_OPTS: -Xms256m -Xmx512m" \
  "SCHEMA_REGISTRY_HEAP_OPTS: \${SR_HEAP:-x}$nl      SR_PASSWORD: \${SR_PASSWORD:-insecure}" \
  on_copy compose-env
self_test "self-test: a secret value baked into .env.example is rejected" \
  docker/.env.example "GRAFANA_ADMIN_PASSWORD=$nl" "GRAFANA_ADMIN_PASSWORD=admin$nl" \
  on_copy compose-env
self_test "self-test: waiting on a service without a healthcheck is rejected" \
  docker/compose.yaml '      test: ["CMD-SHELL", "wget --spider -q -T 3 http://127.0.0.1:8123/ping"]' \
  '      disable: true' \
  on_copy compose-refs
self_test "self-test: depends_on an unknown service is rejected" \
  docker/compose.yaml "  schema-registry:$nl    condition: service_healthy" "  registry:$nl    condition: service_healthy" \
  on_copy compose-refs
self_test "self-test: a bind mount of a missing repo path is rejected" \
  docker/compose.yaml "./clickhouse/users.d/grafana.xml:/etc" "./clickhouse/users.d/missing.xml:/etc" \
  on_copy compose-refs
self_test "self-test: a hub service that does not wait for migrate is rejected" \
  docker/compose.yaml "    condition: service_completed_successfully" "    condition: service_started" \
  on_copy compose-hub
self_test "self-test: Prometheus scraping a non-existent hub service is rejected" \
  docker/prometheus/prometheus.yml "sink:9464" "sinks:9464" \
  on_copy compose-hub
self_test "self-test: a missing data source UID is rejected" \
  docker/grafana/provisioning/datasources/datasources.yaml "uid: clickhouse" "uid: ch" \
  on_copy grafana
self_test "self-test: a ClickHouse user with a password in the file is rejected" \
  docker/clickhouse/users.d/grafana.xml '<password from_env="CLICKHOUSE_GRAFANA_PASSWORD"/>' '<password>grafana</password>' \
  on_copy clickhouse
self_test "self-test: a root runtime user is rejected" \
  docker/Dockerfile "USER 10001:10001" "USER root" \
  on_copy dockerfile
self_test "self-test: promtool unit tests catch a changed alert threshold" \
  docker/prometheus/rules/hub.rules.yml ") > 0.05" ") > 0.5" \
  promtool test rules "$copy/docker/prometheus/rules/hub.rules.test.yml"

fresh_copy
printf '{"title": "broken", "panels": [' >"$copy/dashboards/broken.json"
expect_failure "self-test: an invalid dashboard JSON is rejected" on_copy dashboards
fresh_copy
printf '{"title": "t", "panels": [{"datasource": {"type": "prometheus", "uid": "prom"}}]}' \
  >"$copy/dashboards/unknown-uid.json"
expect_failure "self-test: a dashboard using an unprovisioned data source UID is rejected" on_copy dashboards

printf '%d passed, %d failed\n' "$passed" "$failed"
[ "$failed" -eq 0 ]
