#!/usr/bin/env python3
"""Static checks of the ops configuration (docker/, dashboards/) that need no Docker engine.

usage: opscheck.py CHECK      (run by tests/ops/check-ops.sh, one process per check)

Each check prints what it verified and exits 0, or prints every problem it found and exits 1.
Needs PyYAML, jsonschema and check-jsonschema (which ships the official compose-spec schema).
"""

from __future__ import annotations

import importlib
import json
import os
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

# OPSCHECK_ROOT lets check-ops.sh run the checks on a mutated copy (to prove they catch faults).
ROOT = Path(os.environ.get("OPSCHECK_ROOT") or Path(__file__).resolve().parents[2]).resolve()
DOCKER = ROOT / "docker"
COMPOSE = DOCKER / "compose.yaml"
ENV_EXAMPLE = DOCKER / ".env.example"
DOCKERFILE = DOCKER / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
PROM_DOCKER = DOCKER / "prometheus" / "prometheus.yml"
PROM_LOCAL = DOCKER / "prometheus" / "prometheus.local.yml"
RULES = DOCKER / "prometheus" / "rules" / "hub.rules.yml"
RULES_TEST = DOCKER / "prometheus" / "rules" / "hub.rules.test.yml"
GRAFANA_PROV = DOCKER / "grafana" / "provisioning"
DASHBOARDS = ROOT / "dashboards"
HUB_TOML = ROOT / "config" / "hub.toml"

HUB_SERVICES = ("migrate", "process", "sink", "connect")
SCRAPED_HUB_SERVICES = ("process", "sink", "connect")
REQUIRED_SERVICES = (
    "kafka", "schema-registry", "clickhouse", "prometheus", "grafana", *HUB_SERVICES,
)
REQUIRED_HUB_ENV = (
    "HUB_KAFKA__BOOTSTRAP_SERVERS", "HUB_KAFKA__TOPIC_PREFIX", "HUB_KAFKA__SCHEMA_REGISTRY_URL",
    "HUB_CLICKHOUSE__URL", "HUB_CLICKHOUSE__DATABASE", "HUB_CLICKHOUSE__USER",
    "HUB_CLICKHOUSE__PASSWORD", "HUB_METRICS__LISTEN", "HUB_LOG__FORMAT", "RUST_LOG",
)
# Metrics the hub exposes (the contract the rules and dashboards rely on).
HUB_METRICS = {
    "hub_component_received_events_total", "hub_component_sent_events_total",
    "hub_component_errors_total", "hub_component_discarded_events_total",
    "hub_quarantined_records_total", "hub_scores_emitted_total", "hub_state_references",
    "hub_consumer_lag", "hub_sink_batch_size", "hub_sink_insert_duration_seconds",
    "hub_signal_to_score_latency_seconds", "hub_connector_last_success_timestamp_seconds",
    "hub_connector_circuit_open",
}
DATASOURCE_UIDS = {"prometheus", "clickhouse"}
SECRET_NAME = re.compile(r"(PASSWORD|SECRET|TOKEN|CLUSTER_ID)")


class Problems(list):
    def need(self, condition: bool, message: str) -> bool:
        if not condition:
            self.append(message)
        return condition


def need_module(name: str, pip_name: str):
    try:
        return importlib.import_module(name)
    except ImportError:
        print(
            f"missing Python package '{pip_name}' (import {name}) in {sys.executable}: "
            f"add it to devtools/requirements.txt and install it "
            f"({sys.executable} -m pip install -r devtools/requirements.txt)",
            file=sys.stderr,
        )
        sys.exit(2)


yaml = need_module("yaml", "PyYAML")


def load_yaml(path: Path):
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


# --- .env files and compose interpolation ----------------------------------------------------

def read_env_file(path: Path) -> dict[str, str]:
    """Parses a compose .env file (KEY=VALUE, optional quotes, # comments)."""
    values: dict[str, str] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = re.fullmatch(r"(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)", line)
        if not match:
            raise ValueError(f"{path}:{number}: not KEY=VALUE: {raw!r}")
        key, value = match.groups()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        else:
            value = re.split(r"\s+#", value, maxsplit=1)[0].rstrip()
        values[key] = value
    return values


VAR = re.compile(
    r"\$\$|\$\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|\$(?P<plain>[A-Za-z_][A-Za-z0-9_]*)"
)


class InterpolationError(Exception):
    pass


def references(text: str):
    """Yields (name, operator, argument) for every variable reference in text."""
    for match in VAR.finditer(text):
        if match.group(0) == "$$":
            continue
        name = match.group("braced") or match.group("plain")
        yield name, match.group("op") or "", match.group("arg") or ""


def interpolate_text(text: str, env: dict[str, str], errors: list[str]) -> str:
    def substitute(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("braced") or match.group("plain")
        op, arg = match.group("op") or "", match.group("arg") or ""
        if "$" in arg:
            raise InterpolationError(f"nested interpolation is not supported here: {match.group(0)}")
        value = env.get(name)
        is_set, non_empty = value is not None, bool(value)
        if op == ":-":
            return value if non_empty else arg
        if op == "-":
            return value if is_set else arg
        if op == ":?":
            if not non_empty:
                errors.append(f"required variable {name} is missing a value: {arg}")
            return value or ""
        if op == "?":
            if not is_set:
                errors.append(f"required variable {name} is missing: {arg}")
            return value or ""
        if op == ":+":
            return arg if non_empty else ""
        if op == "+":
            return arg if is_set else ""
        return value or ""

    return VAR.sub(substitute, text)


def interpolate(node, env: dict[str, str], errors: list[str]):
    if isinstance(node, dict):
        return {key: interpolate(value, env, errors) for key, value in node.items()}
    if isinstance(node, list):
        return [interpolate(value, env, errors) for value in node]
    if isinstance(node, str):
        return interpolate_text(node, env, errors)
    return node


def all_strings(node):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from all_strings(key)
            yield from all_strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from all_strings(value)
    elif isinstance(node, str):
        yield node


def filled_example_env() -> dict[str, str]:
    """.env.example with every empty (secret) value filled, as an operator would."""
    env = read_env_file(ENV_EXAMPLE)
    return {key: value or f"example-{key.lower()}" for key, value in env.items()}


def compose_resolved() -> dict:
    errors: list[str] = []
    resolved = interpolate(load_yaml(COMPOSE), filled_example_env(), errors)
    if errors:
        raise InterpolationError("; ".join(errors))
    return resolved


def env_dict(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    return {key: (None if value is None else str(value)) for key, value in env.items()}


def host_port(address: str) -> tuple[str, int]:
    address = re.sub(r"^[a-z]+://", "", address).split("/", 1)[0]
    host, _, port = address.rpartition(":")
    return host, int(port)


# --- checks -----------------------------------------------------------------------------------

def check_compose_schema(problems: Problems) -> str:
    jsonschema = need_module("jsonschema", "jsonschema")
    need_module("check_jsonschema", "check-jsonschema")
    from importlib import resources

    schema_file = resources.files("check_jsonschema.builtin_schemas.vendor").joinpath("compose-spec.json")
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    document = compose_resolved()
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)
    for error in sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path)):
        location = "/".join(str(part) for part in error.absolute_path) or "(root)"
        problems.append(f"compose-spec: {location}: {error.message}")
    return f"docker/compose.yaml (interpolated with docker/.env.example) is valid against the compose-spec schema ({schema.get('$schema')})"


def check_compose_env(problems: Problems) -> str:
    raw = load_yaml(COMPOSE)
    example = read_env_file(ENV_EXAMPLE)
    referenced: dict[str, set[str]] = {}
    for text in all_strings(raw):
        for name, op, _ in references(text):
            referenced.setdefault(name, set()).add(op)
    for name in sorted(referenced):
        problems.need(name in example, f"{name} is used by docker/compose.yaml but not documented in docker/.env.example")
    for name in sorted(example):
        problems.need(name in referenced, f"{name} is in docker/.env.example but docker/compose.yaml never uses it")
    secrets = sorted(name for name in referenced if SECRET_NAME.search(name))
    problems.need(bool(secrets), "no secret variable found in docker/compose.yaml (expected passwords from the environment)")
    for name in secrets:
        problems.need(referenced[name] == {":?"}, f"secret {name} must always be referenced as ${{{name}:?message}} (found operators {sorted(referenced[name])})")
        problems.need(example.get(name, "") == "", f"docker/.env.example must leave secret {name} empty (no baked-in value)")
    # Compose must refuse to start from an unfilled copy of .env.example and with no .env at all.
    for label, env in (("an unfilled copy of docker/.env.example", example), ("no .env at all", {})):
        errors: list[str] = []
        interpolate(raw, env, errors)
        missing = {re.match(r"required variable (\w+)", e).group(1) for e in errors}
        problems.need(set(secrets) <= missing, f"with {label}, compose would start without {sorted(set(secrets) - missing)}")
    errors = []
    interpolate(raw, filled_example_env(), errors)
    problems.need(not errors, f"with every value of docker/.env.example filled in, interpolation still fails: {errors}")
    # Plain-text secrets must not appear anywhere in the compose file.
    text = COMPOSE.read_text(encoding="utf-8")
    for bad in ("changeme", "change-me", "CHANGEME"):
        problems.need(bad not in text, f"placeholder '{bad}' found in docker/compose.yaml")
    for key, value in _literal_environment(raw):
        if SECRET_NAME.search(key) and "${" not in str(value) and "$" not in str(value):
            problems.append(f"environment {key} has a literal value in docker/compose.yaml; secrets come from docker/.env")
    return f"{len(referenced)} variables referenced, all documented in docker/.env.example; secrets {', '.join(secrets)} are required (:?) and empty in the example"


def _literal_environment(raw: dict):
    for service in (raw.get("services") or {}).values():
        for key, value in env_dict(service).items():
            yield key, value


def check_compose_refs(problems: Problems) -> str:
    compose = compose_resolved()
    services: dict = compose.get("services") or {}
    volumes = set((compose.get("volumes") or {}).keys())
    networks = set((compose.get("networks") or {}).keys())
    for name in REQUIRED_SERVICES:
        problems.need(name in services, f"service {name} is missing")
    for name, service in services.items():
        where = f"service {name}"
        has_image, build = "image" in service, service.get("build")
        problems.need(has_image or build, f"{where}: neither image nor build")
        if build is not None:
            context = build if isinstance(build, str) else build.get("context", ".")
            context_dir = (DOCKER / context).resolve()
            problems.need(context_dir.is_dir(), f"{where}: build context {context} does not exist")
            dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
            problems.need((context_dir / dockerfile).is_file(), f"{where}: dockerfile {dockerfile} not found in {context}")
        elif has_image:
            image = service["image"]
            tag = image.rsplit("/", 1)[-1].partition("@")[0]
            problems.need(":" in tag and not tag.endswith(":latest"), f"{where}: image {image} is not pinned to a version")
        # depends_on
        depends = service.get("depends_on") or {}
        if isinstance(depends, list):
            depends = {target: {"condition": "service_started"} for target in depends}
        for target, spec in depends.items():
            if not problems.need(target in services, f"{where}: depends_on unknown service {target}"):
                continue
            condition = (spec or {}).get("condition", "service_started")
            target_service = services[target]
            if condition == "service_healthy":
                check = target_service.get("healthcheck") or {}
                problems.need(bool(check.get("test")) and not check.get("disable"), f"{where}: waits for {target} to be healthy, but {target} has no healthcheck")
            elif condition == "service_completed_successfully":
                problems.need(str(target_service.get("restart", "no")) == "no", f"{where}: waits for {target} to complete, but {target} restarts (restart must be \"no\")")
        # volumes: bind sources exist and are read-only; named volumes declared
        for volume in service.get("volumes") or []:
            if isinstance(volume, dict):
                source, target, read_only = volume.get("source", ""), volume.get("target", ""), volume.get("read_only", False)
                kind = volume.get("type", "volume")
            else:
                parts = volume.split(":")
                source, target = parts[0], parts[1] if len(parts) > 1 else parts[0]
                read_only = len(parts) > 2 and "ro" in parts[2].split(",")
                kind = "bind" if source.startswith((".", "/", "~")) else "volume"
            if kind == "bind":
                path = (DOCKER / source).resolve()
                problems.need(path.exists(), f"{where}: bind mount source {source} does not exist ({path})")
                problems.need(read_only, f"{where}: bind mount {source}:{target} should be read-only (:ro)")
            elif source:
                problems.need(source in volumes, f"{where}: named volume {source} is not declared under volumes:")
        for network in service.get("networks") or []:
            problems.need(network in networks, f"{where}: network {network} is not declared under networks:")
        for port in service.get("ports") or []:
            spec = port if isinstance(port, str) else port.get("host_ip", "")
            problems.need(isinstance(port, dict) and port.get("host_ip") or str(spec).count(":") >= 2,
                          f"{where}: published port {port} does not name a host address (binds every interface)")
        if name not in ("migrate",):
            problems.need(service.get("restart") in ("unless-stopped", "always", "on-failure"), f"{where}: long-running service without a restart policy")
        problems.need("logging" in service, f"{where}: no logging options (unbounded json-file logs)")
    return f"{len(services)} services: images pinned or built, depends_on targets exist with healthchecks/one-shot semantics, bind mounts exist read-only, volumes/networks declared, ports bound to a host address"


def check_compose_hub(problems: Problems) -> str:
    compose = compose_resolved()
    services = compose["services"]
    kafka_env = env_dict(services["kafka"])
    advertised = kafka_env.get("KAFKA_ADVERTISED_LISTENERS", "")
    sr_env = env_dict(services["schema-registry"])
    group_ids = {}
    toml_keys = _hub_toml_keys()
    for name in HUB_SERVICES:
        service = services[name]
        where = f"service {name}"
        env = env_dict(service)
        build = service.get("build") or {}
        problems.need(isinstance(build, dict) and build.get("dockerfile") == "docker/Dockerfile" and build.get("context") == "..",
                      f"{where}: must build docker/Dockerfile with the repository root as context")
        command = service.get("command") or []
        command = command.split() if isinstance(command, str) else command
        problems.need(command[:1] == [name], f"{where}: command must start with the subcommand '{name}' (got {command})")
        for key in REQUIRED_HUB_ENV:
            problems.need(bool(env.get(key)), f"{where}: {key} is not set")
        for key in env:
            if key.startswith("HUB_"):
                match = re.fullmatch(r"HUB_([A-Z0-9_]+?)__([A-Z0-9_]+)", key)
                if not problems.need(match is not None, f"{where}: {key} is not of the form HUB_<SECTION>__<KEY>"):
                    continue
                section, item = match.group(1).lower(), match.group(2).lower()
                if toml_keys is not None:
                    problems.need(section in toml_keys, f"{where}: {key}: config/hub.toml has no [{section}] section")
                    problems.need(section not in toml_keys or item in toml_keys[section] or item.endswith("password"),
                                  f"{where}: {key}: config/hub.toml has no key {section}.{item}")
        host, port = host_port(env.get("HUB_KAFKA__BOOTSTRAP_SERVERS", ":0"))
        problems.need(host in services and f"://{host}:{port}" in advertised, f"{where}: HUB_KAFKA__BOOTSTRAP_SERVERS {host}:{port} is not an advertised Kafka listener ({advertised})")
        host, port = host_port(env.get("HUB_KAFKA__SCHEMA_REGISTRY_URL", ":0"))
        problems.need(host == "schema-registry" and f":{port}" in sr_env.get("SCHEMA_REGISTRY_LISTENERS", ""), f"{where}: HUB_KAFKA__SCHEMA_REGISTRY_URL does not point at the schema-registry listener")
        host, port = host_port(env.get("HUB_CLICKHOUSE__URL", ":0"))
        problems.need(host == "clickhouse" and port == _clickhouse_http_port(), f"{where}: HUB_CLICKHOUSE__URL does not point at clickhouse:{_clickhouse_http_port()}")
        problems.need(env.get("HUB_CLICKHOUSE__DATABASE") == "sourcing_hub", f"{where}: HUB_CLICKHOUSE__DATABASE must be sourcing_hub")
        problems.need(env.get("HUB_METRICS__LISTEN", "").startswith("0.0.0.0:"), f"{where}: HUB_METRICS__LISTEN must listen on 0.0.0.0 in a container")
        if name != "migrate":
            depends = service.get("depends_on") or {}
            problems.need((depends.get("migrate") or {}).get("condition") == "service_completed_successfully", f"{where}: must wait for migrate (condition: service_completed_successfully)")
            for dependency in ("kafka", "schema-registry", "clickhouse"):
                problems.need((depends.get(dependency) or {}).get("condition") == "service_healthy", f"{where}: must wait for {dependency} to be healthy")
            group_ids[name] = env.get("HUB_KAFKA__GROUP_ID")
            problems.need(bool(service.get("healthcheck")), f"{where}: no healthcheck")
    # Each command appends its role to the group id (`<group_id>-process`, `-sink`), so the
    # services share one base id; a role already in the id would be doubled.
    problems.need(len(set(group_ids.values())) == 1 and None not in group_ids.values(), f"process, sink and connect share one base HUB_KAFKA__GROUP_ID, each command adds its role (got {group_ids})")
    problems.need(not any(str(group).endswith(("-process", "-sink", "-connect")) for group in group_ids.values()), f"HUB_KAFKA__GROUP_ID must not end with a role the command adds itself (got {group_ids})")
    clickhouse_env = env_dict(services["clickhouse"])
    raw = load_yaml(COMPOSE)
    raw_hub_env = env_dict(raw["services"]["process"])
    raw_ch_env = env_dict(raw["services"]["clickhouse"])
    problems.need([n for n, _, _ in references(raw_hub_env.get("HUB_CLICKHOUSE__USER", ""))] == [n for n, _, _ in references(raw_ch_env.get("CLICKHOUSE_USER", ""))],
                  "the hub's HUB_CLICKHOUSE__USER and ClickHouse's CLICKHOUSE_USER must come from the same variable")
    problems.need([n for n, _, _ in references(raw_hub_env.get("HUB_CLICKHOUSE__PASSWORD", ""))] == [n for n, _, _ in references(raw_ch_env.get("CLICKHOUSE_PASSWORD", ""))],
                  "the hub's HUB_CLICKHOUSE__PASSWORD and ClickHouse's CLICKHOUSE_PASSWORD must come from the same variable")
    problems.need(clickhouse_env.get("CLICKHOUSE_DB") == "sourcing_hub", "clickhouse: CLICKHOUSE_DB must be sourcing_hub")
    problems.need(kafka_env.get("KAFKA_AUTO_CREATE_TOPICS_ENABLE") == "false", "kafka: auto topic creation must be off (the hub creates its topics)")
    # Prometheus scrapes exactly the long-running hub services on their metrics port.
    prometheus = load_yaml(PROM_DOCKER)
    targets = {
        target
        for job in prometheus.get("scrape_configs", []) if job.get("job_name") == "hub"
        for static in job.get("static_configs", []) for target in static.get("targets", [])
    }
    expected = set()
    for name in SCRAPED_HUB_SERVICES:
        _, port = host_port(env_dict(services[name])["HUB_METRICS__LISTEN"])
        expected.add(f"{name}:{port}")
    problems.need(targets == expected, f"docker/prometheus/prometheus.yml job hub scrapes {sorted(targets)}, expected {sorted(expected)}")
    local = load_yaml(PROM_LOCAL)
    local_targets = {t for job in local.get("scrape_configs", []) if job.get("job_name") == "hub" for s in job.get("static_configs", []) for t in s.get("targets", [])}
    problems.need(local_targets == {"127.0.0.1:9464"}, f"docker/prometheus/prometheus.local.yml must scrape the hub at 127.0.0.1:9464 (got {sorted(local_targets)})")
    for path, config in ((PROM_DOCKER, prometheus), (PROM_LOCAL, local)):
        problems.need(config.get("rule_files") == ["rules/hub.rules.yml"], f"{path.name} must load rules/hub.rules.yml")
    prom_service = services["prometheus"]
    problems.need(any(str(v).startswith("./prometheus:/etc/prometheus") for v in prom_service.get("volumes", [])), "prometheus: docker/prometheus must be mounted at /etc/prometheus")
    note = "" if toml_keys is not None else " (config/hub.toml absent: HUB_* keys not cross-checked)"
    return f"hub services build docker/Dockerfile, run their subcommand with every HUB_* setting, reach kafka/schema-registry/clickhouse on their listeners, wait for migrate; Prometheus scrapes {', '.join(sorted(expected))}{note}"


def _hub_toml_keys():
    if not HUB_TOML.is_file():
        return None
    import tomllib

    data = tomllib.loads(HUB_TOML.read_text(encoding="utf-8"))
    return {section: set(values) for section, values in data.items() if isinstance(values, dict)}


def _clickhouse_http_port() -> int:
    tree = ET.parse(DOCKER / "clickhouse" / "config.d" / "sourcing-hub.xml")
    return int(tree.getroot().findtext("http_port"))


def check_clickhouse_config(problems: Problems) -> str:
    compose = load_yaml(COMPOSE)
    service = compose["services"]["clickhouse"]
    env = env_dict(service)
    mounted = {str(v).split(":")[0] for v in service.get("volumes", [])}
    files = sorted((DOCKER / "clickhouse").rglob("*.xml"))
    problems.need(bool(files), "no ClickHouse XML configuration under docker/clickhouse")
    for path in files:
        relative = "./" + str(path.relative_to(DOCKER))
        problems.need(relative in mounted, f"{relative} is not mounted into the clickhouse service")
        try:
            root = ET.parse(path).getroot()
        except ET.ParseError as error:
            problems.append(f"{relative}: not well-formed XML: {error}")
            continue
        problems.need(root.tag == "clickhouse", f"{relative}: root element must be <clickhouse>")
        for element in root.iter():
            source = element.get("from_env")
            if source:
                problems.need(source in env, f"{relative}: <{element.tag} from_env=\"{source}\"> but the clickhouse service does not set {source}")
        for user in root.findall("./users/*"):
            password = user.find("password")
            problems.need(password is not None and password.get("from_env") and not (password.text or "").strip(),
                          f"{relative}: user {user.tag} must take its password from the environment (from_env), not from the file")
    problems.need(_clickhouse_http_port() == 8123, "ClickHouse http_port must be 8123")
    return f"{len(files)} ClickHouse XML files well-formed, mounted, passwords from the environment; HTTP port {_clickhouse_http_port()}"


def check_grafana(problems: Problems) -> str:
    compose = compose_resolved()
    services = compose["services"]
    grafana = services["grafana"]
    env = env_dict(grafana)
    volumes = [str(v) for v in grafana.get("volumes", [])]
    problems.need(any(v.startswith("./grafana/provisioning:/etc/grafana/provisioning") for v in volumes), "grafana: docker/grafana/provisioning must be mounted at /etc/grafana/provisioning")
    dashboards_mount = next((v for v in volumes if v.split(":")[0] == "../dashboards"), None)
    problems.need(dashboards_mount is not None and dashboards_mount.endswith(":ro"), "grafana: the repository's dashboards/ directory must be mounted read-only")
    plugins = env.get("GF_PLUGINS_PREINSTALL_SYNC", "") or env.get("GF_PLUGINS_PREINSTALL", "")
    problems.need(re.search(r"(^|,)grafana-clickhouse-datasource@\d+\.\d+\.\d+", plugins) is not None, "grafana: the grafana-clickhouse-datasource plugin must be preinstalled at a pinned version")

    datasource_files = sorted((GRAFANA_PROV / "datasources").glob("*.y*ml"))
    problems.need(bool(datasource_files), "no datasource provisioning file")
    uids: dict[str, dict] = {}
    for path in datasource_files:
        document = load_yaml(path) or {}
        problems.need(document.get("apiVersion") == 1, f"{path.name}: apiVersion must be 1")
        for datasource in document.get("datasources") or []:
            uid = datasource.get("uid")
            problems.need(bool(uid), f"{path.name}: data source {datasource.get('name')} has no uid")
            problems.need(uid not in uids, f"{path.name}: duplicate data source uid {uid}")
            uids[uid] = datasource
        for text in all_strings(document):
            for name, _, _ in references(text):
                problems.need(name in env, f"{path.name}: ${name} is not in the grafana service environment")
    for uid in sorted(DATASOURCE_UIDS):
        problems.need(uid in uids, f"data source uid {uid} is not provisioned")
    if "prometheus" in uids:
        source = uids["prometheus"]
        problems.need(source.get("type") == "prometheus", "uid prometheus must be of type prometheus")
        host, port = host_port(source.get("url", ":0"))
        problems.need(host == "prometheus" and host in services and port == 9090, f"uid prometheus must point at the prometheus service (url {source.get('url')})")
    if "clickhouse" in uids:
        source = uids["clickhouse"]
        data = source.get("jsonData") or {}
        problems.need(source.get("type") == "grafana-clickhouse-datasource", "uid clickhouse must be of type grafana-clickhouse-datasource")
        problems.need(data.get("host") == "clickhouse" and "clickhouse" in services, "uid clickhouse must point at the clickhouse service")
        problems.need(data.get("protocol") == "http" and data.get("port") == _clickhouse_http_port(), "uid clickhouse must use the HTTP protocol on ClickHouse's http_port")
        problems.need(data.get("defaultDatabase") == "sourcing_hub", "uid clickhouse must default to database sourcing_hub")
        users_file = DOCKER / "clickhouse" / "users.d" / "grafana.xml"
        users = {u.tag for u in ET.parse(users_file).getroot().findall("./users/*")} if users_file.is_file() else set()
        problems.need(data.get("username") in users, f"uid clickhouse logs in as {data.get('username')}, which docker/clickhouse/users.d defines not")
        problems.need(str((source.get("secureJsonData") or {}).get("password", "")).startswith("$"), "uid clickhouse password must come from the environment")

    provider_files = sorted((GRAFANA_PROV / "dashboards").glob("*.y*ml"))
    problems.need(bool(provider_files), "no dashboard provider file")
    for path in provider_files:
        document = load_yaml(path) or {}
        problems.need(document.get("apiVersion") == 1, f"{path.name}: apiVersion must be 1")
        for provider in document.get("providers") or []:
            problems.need(provider.get("type") == "file", f"{path.name}: provider {provider.get('name')} must be of type file")
            target = (provider.get("options") or {}).get("path")
            problems.need(dashboards_mount is not None and dashboards_mount.split(":")[1] == target, f"{path.name}: provider path {target} is not where dashboards/ is mounted ({dashboards_mount})")
    return f"data sources {', '.join(sorted(uids))} provisioned ({len(datasource_files)} file), dashboards provider reads the read-only dashboards/ mount, ClickHouse plugin pinned ({plugins})"


def _datasource_refs(node, found: list):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "datasource":
                if isinstance(value, dict) and "uid" in value:
                    found.append(str(value["uid"]))
                elif isinstance(value, str):
                    found.append(value)
            _datasource_refs(value, found)
    elif isinstance(node, list):
        for value in node:
            _datasource_refs(value, found)


def check_dashboards(problems: Problems) -> str:
    files = sorted(DASHBOARDS.rglob("*.json")) if DASHBOARDS.is_dir() else []
    if not files:
        return "no dashboard JSON in dashboards/ yet (nothing to validate)"
    builtin = {"-- Grafana --", "grafana", "-- Mixed --", "-- Dashboard --", "datasource"}
    dashboard_uids: dict[str, Path] = {}
    for path in files:
        relative = path.relative_to(ROOT)
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            problems.append(f"{relative}: invalid JSON: {error}")
            continue
        if not problems.need(isinstance(document, dict), f"{relative}: a dashboard must be a JSON object"):
            continue
        problems.need(bool(document.get("title")), f"{relative}: dashboard has no title")
        uid = document.get("uid")
        if uid:
            problems.need(uid not in dashboard_uids, f"{relative}: dashboard uid {uid} also used by {dashboard_uids.get(uid)}")
            dashboard_uids[uid] = relative
        references_found: list[str] = []
        _datasource_refs(document, references_found)
        for ref in references_found:
            if ref.startswith("$") or ref in builtin:
                continue
            problems.need(ref in DATASOURCE_UIDS, f"{relative}: data source uid '{ref}' is not provisioned ({', '.join(sorted(DATASOURCE_UIDS))})")
    return f"{len(files)} dashboard JSON files valid, data source uids within {sorted(DATASOURCE_UIDS)}"


def check_dockerfile(problems: Problems) -> str:
    text = DOCKERFILE.read_text(encoding="utf-8")
    args = dict(re.findall(r"^ARG\s+(\w+)=(\S+)", text, re.M))
    stages = re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\S+))?", text, re.M | re.I)
    problems.need(len(stages) >= 2, "Dockerfile must be multi-stage (builder + runtime)")
    for image, _ in stages:
        resolved = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), image)
        tag = resolved.rsplit("/", 1)[-1]
        problems.need(":" in tag and not tag.endswith(":latest") and "$" not in resolved, f"Dockerfile: base image {resolved} is not pinned")
    if stages:
        builder = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), stages[0][0])
        problems.need(re.search(r"rust:1\.95", builder) is not None, f"builder must be Rust 1.95 (got {builder})")
        runtime = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), stages[-1][0])
        problems.need(re.search(r"debian:(12|bookworm)", runtime) is not None and "slim" in runtime, f"runtime must be Debian bookworm slim (got {runtime})")
    final = text.split(stages[-1][0], 1)[-1] if stages else text
    users = re.findall(r"^USER\s+(\S+)", final, re.M)
    problems.need(bool(users) and users[-1].split(":")[0] not in ("root", "0"), "runtime stage must switch to a non-root USER")
    problems.need(re.search(r'^ENTRYPOINT\s+\["hub"\]', text, re.M) is not None, 'ENTRYPOINT must be ["hub"]')
    problems.need("cargo build --release --locked -p hub" in text, "builder must build the hub package with --locked")
    problems.need(re.search(r"cmake", text) is not None and re.search(r"zlib1g-dev", text) is not None, "builder must install cmake and zlib headers for rdkafka-sys")
    problems.need(re.search(r"^COPY --from=builder \S*config\S* /app/config", text, re.M) is not None, "the repository's config/ must be copied into the image")
    ignore = {line.strip() for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines() if line.strip() and not line.startswith("#")}
    for entry in ("target/", ".hub/", ".git"):
        problems.need(entry in ignore, f".dockerignore must exclude {entry}")
    problems.need(any(e in ignore for e in (".env", "**/.env", "docker/.env")), ".dockerignore must exclude .env files (secrets)")
    for required in ("Cargo.toml", "Cargo.lock", "pipeline/hub/Cargo.toml"):
        problems.need((ROOT / required).is_file(), f"build context lacks {required}")
    resolved_stages = [re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), i) for i, _ in stages]
    return f"multi-stage {' -> '.join(resolved_stages)}; non-root, ENTRYPOINT hub; .dockerignore excludes target/, .hub/, .git and .env"


def check_rules_coverage(problems: Problems) -> str:
    rules = load_yaml(RULES)
    tests = load_yaml(RULES_TEST)
    alerts: dict[str, dict] = {}
    for group in rules.get("groups", []):
        for rule in group.get("rules", []):
            if "alert" in rule:
                alerts[rule["alert"]] = rule
    firing, quiet = set(), set()
    for test in tests.get("tests", []):
        for case in test.get("alert_rule_test", []) or []:
            (firing if case.get("exp_alerts") else quiet).add(case.get("alertname"))
    for name, rule in sorted(alerts.items()):
        problems.need(name in firing, f"{name} has no promtool test where it fires")
        problems.need(name in quiet, f"{name} has no promtool test where it stays quiet")
        problems.need((rule.get("labels") or {}).get("severity") in ("critical", "warning"), f"{name}: severity must be critical or warning")
        annotations = rule.get("annotations") or {}
        for key in ("summary", "description", "runbook"):
            problems.need(bool(annotations.get(key)), f"{name}: annotation {key} is missing")
        for metric in set(re.findall(r"\bhub_[a-z_]+", rule["expr"])):
            base = re.sub(r"_(bucket|sum|count)$", "", metric)
            problems.need(base in HUB_METRICS, f"{name}: {metric} is not a metric the hub exposes")
    required = {
        "HubConsumerLagHigh", "HubConsumerLagGrowing", "HubQuarantineRatioHigh", "HubNoScoresEmitted",
        "HubSinkErrors", "HubSinkInsertLatencyHigh", "HubConnectorCircuitOpen", "HubConnectorStale",
        "HubTargetDown",
    }
    for name in sorted(required - set(alerts)):
        problems.append(f"required alert {name} is missing")
    problems.need(tests.get("rule_files") == ["hub.rules.yml"], "hub.rules.test.yml must test hub.rules.yml")
    return f"{len(alerts)} alerts, each tested firing and quiet, with severity, summary, description, runbook, on hub metrics only"


CHECKS = {
    "compose-schema": check_compose_schema,
    "compose-env": check_compose_env,
    "compose-refs": check_compose_refs,
    "compose-hub": check_compose_hub,
    "clickhouse": check_clickhouse_config,
    "grafana": check_grafana,
    "dashboards": check_dashboards,
    "dockerfile": check_dockerfile,
    "rules-coverage": check_rules_coverage,
}


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[1] not in CHECKS:
        print(f"usage: {argv[0]} {{{'|'.join(CHECKS)}}}", file=sys.stderr)
        return 2
    problems = Problems()
    try:
        summary = CHECKS[argv[1]](problems)
    except (OSError, ValueError, KeyError, TypeError, InterpolationError, yaml.YAMLError, ET.ParseError) as error:
        problems.append(f"{type(error).__name__}: {error}")
        summary = ""
    if problems:
        for problem in problems:
            print(f"- {problem}")
        return 1
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
