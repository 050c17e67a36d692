import re
import shutil
import subprocess
from pathlib import Path, PurePosixPath

import pytest
import yaml

from stream.policy import Policy, load_policy
from stream.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
PROMETHEUS = ROOT / "deploy" / "prometheus" / "prometheus.yml"
POLICY = ROOT / "deploy" / "policy" / "default.toml"
SLA_NAMES = {f"SLA_{name.upper()}" for name in Settings.model_fields}
OUR_SERVICES = ("topics", "worker", "simulator")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def bind_mounts(service: dict) -> list[tuple[str, str]]:
    """(host source, container target) of the service's bind mounts."""
    out = []
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            if volume.get("type") == "bind":
                out.append((volume["source"], volume["target"]))
            continue
        source, target = volume.split(":")[:2]
        if source.startswith((".", "/", "~")):
            out.append((source, target))
    return out


def host_path(container_path: str, service: dict) -> Path | None:
    """The repository file behind a path inside the service's container."""
    wanted = PurePosixPath(container_path)
    for source, target in bind_mounts(service):
        if wanted == PurePosixPath(target) or PurePosixPath(target) in wanted.parents:
            return ROOT / source / wanted.relative_to(target)
    return None


def test_every_service_is_there(services):
    assert {"kafka", "topics", "worker", "simulator", "prometheus", "alertmanager", "grafana"} <= set(services)
    assert services["simulator"]["profiles"] == ["demo"]


def test_images_are_pinned(services):
    for name, service in services.items():
        image = service.get("image")
        if image is None:
            assert "build" in service, name
            continue
        repository, _, tag = image.rpartition(":")
        assert repository and tag and tag != "latest" and "/" not in tag, f"{name}: {image} is not pinned"
        assert re.search(r"\d", tag), f"{name}: {image} is not pinned to a version"
    assert services["kafka"]["image"] == "apache/kafka:4.1.1"
    assert services["alertmanager"]["image"].startswith("prom/alertmanager:v")


def test_prometheus_is_the_version_the_rule_tests_run_with():
    # make test runs `promtool test rules` with the promtool deploy/prometheus/promtool.sh builds.
    built = re.search(r"^PROM_VERSION=(\S+)$", (ROOT / "deploy/prometheus/promtool.sh").read_text(), re.M)
    compose = yaml.safe_load(COMPOSE.read_text())["services"]["prometheus"]["image"]
    assert built and compose == f"prom/prometheus:v{built.group(1)}"


def test_every_referenced_file_exists(compose, services):
    named = set(compose.get("volumes") or {})
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume["source"] if isinstance(volume, dict) else volume.split(":")[0]
            if source.startswith((".", "/", "~")):
                assert (ROOT / source).exists(), f"{name}: {source} does not exist"
            else:
                assert source in named, f"{name}: volume {source} is not declared"
        build = service.get("build")
        if build is not None:
            context = ROOT / (build if isinstance(build, str) else build.get("context", "."))
            assert context.is_dir(), f"{name}: build context {context}"
            if isinstance(build, dict) and "dockerfile" in build:
                assert (context / build["dockerfile"]).is_file(), f"{name}: {build['dockerfile']}"
        env_files = service.get("env_file", [])
        for env_file in [env_files] if isinstance(env_files, str) else env_files:
            path = env_file if isinstance(env_file, str) else env_file["path"]
            assert (ROOT / path).is_file(), f"{name}: env file {path}"


def test_our_services_use_only_settings_the_service_knows(services):
    for name in OUR_SERVICES:
        env = environment(services[name])
        assert env, name
        unknown = set(env) - SLA_NAMES
        assert not unknown, f"{name}: {sorted(unknown)} are not stream.settings.Settings fields"
        Settings(**{key.removeprefix("SLA_").lower(): value for key, value in env.items()})


def test_our_services_reach_kafka_on_its_internal_listener(services):
    advertised = environment(services["kafka"])["KAFKA_ADVERTISED_LISTENERS"]
    internal = {entry.split("://", 1)[1] for entry in advertised.split(",") if not entry.endswith(":9092")}
    for name in OUR_SERVICES:
        assert environment(services[name])["SLA_KAFKA_BOOTSTRAP"] in internal, name
    assert "9092:9092" in services["kafka"]["ports"]
    assert "healthcheck" in services["kafka"]


def test_services_start_in_order(services):
    assert services["topics"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert services["topics"]["command"] == ["topics"]
    for name in ("worker", "simulator"):
        assert services[name]["depends_on"]["topics"]["condition"] == "service_completed_successfully"
    assert services["worker"]["command"][0] == "worker"
    assert services["simulator"]["command"][0] == "simulate"


def test_the_worker_serves_on_6066_with_a_health_check(services):
    worker = services["worker"]
    # A range of host ports, so that `--scale worker=N` replicas do not collide.
    (mapping,) = worker["ports"]
    host, container = mapping.rsplit(":", 1)
    assert container == "6066" and host.startswith("6066-")
    assert environment(worker).get("SLA_WEB_PORT", "6066") == "6066"
    assert any("/healthz" in part for part in worker["healthcheck"]["test"])


def test_the_worker_policy_is_mounted_and_loads(services):
    worker = services["worker"]
    path = host_path(environment(worker)["SLA_POLICY_FILE"], worker)
    assert path is not None and path.resolve() == POLICY.resolve()
    load_policy(path)


def test_prometheus_scrapes_the_worker_metrics(services):
    config = yaml.safe_load(PROMETHEUS.read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    worker = jobs["sla-worker"]
    assert worker.get("metrics_path", "/metrics") == "/metrics"
    targets = [t for sc in worker.get("static_configs", []) for t in sc["targets"]]
    targets += [f"{n}:{sd['port']}" for sd in worker.get("dns_sd_configs", []) for n in sd["names"]]
    assert "worker:6066" in targets
    mounted = host_path("/etc/prometheus/prometheus.yml", services["prometheus"])
    assert mounted is not None and mounted.resolve() == PROMETHEUS.resolve()
    for rule_file in config.get("rule_files", []):
        assert (PROMETHEUS.parent / rule_file).exists(), rule_file


def test_promtool_accepts_the_prometheus_config():
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (apt-get install prometheus)")
    result = subprocess.run(
        [promtool, "check", "config", str(PROMETHEUS)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_worker_replicas_do_not_share_a_table_directory(services):
    worker = services["worker"]
    data_dir = environment(worker)["SLA_DATA_DIR"]
    for volume in worker.get("volumes", []):
        target = volume["target"] if isinstance(volume, dict) else volume.split(":")[1]
        assert not PurePosixPath(data_dir).is_relative_to(target), f"{target} would be shared by every replica"


def test_prometheus_loads_the_rules_and_sends_alerts_to_alertmanager(services):
    config = yaml.safe_load(PROMETHEUS.read_text())
    assert config["rule_files"], "no rule files"
    for rule_file in config["rule_files"]:
        in_container = PurePosixPath("/etc/prometheus") / rule_file
        mounted = host_path(str(in_container), services["prometheus"])
        assert mounted is not None and mounted.is_file(), rule_file
    (manager,) = [t for am in config["alerting"]["alertmanagers"] for sc in am["static_configs"] for t in sc["targets"]]
    name, port = manager.split(":")
    assert name == "alertmanager" and f"{port}:{port}" in services["alertmanager"]["ports"]


def test_alertmanager_runs_the_checked_config(services):
    alertmanager = services["alertmanager"]
    flag = next(a for a in alertmanager["command"] if a.startswith("--config.file="))
    mounted = host_path(flag.split("=", 1)[1], alertmanager)
    assert mounted is not None and mounted.resolve() == (ROOT / "deploy/alertmanager/alertmanager.yml").resolve()


def test_grafana_provisions_the_dashboards(services):
    grafana = services["grafana"]
    providers = yaml.safe_load((ROOT / "deploy/grafana/provisioning/dashboards/sla.yml").read_text())["providers"]
    for provider in providers:
        folder = host_path(provider["options"]["path"], grafana)
        assert folder is not None and folder.resolve() == (ROOT / "deploy/grafana/dashboards").resolve()
        assert sorted(p.name for p in folder.glob("*.json")) == ["sla-service-health.json", "sla-wallboard.json"]


def test_grafana_reads_prometheus(services):
    provisioning = host_path("/etc/grafana/provisioning", services["grafana"])
    assert provisioning is not None
    datasources = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())
    (source,) = datasources["datasources"]
    assert source["type"] == "prometheus" and source["url"] == "http://prometheus:9090"


def test_the_image_runs_the_service_as_a_non_root_user():
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())  # join continued lines
    instructions = [line.split(None, 1) for line in text.splitlines() if line and not line.startswith("#")]
    instructions = [(parts[0].upper(), parts[1] if len(parts) > 1 else "") for parts in instructions]
    base = [arg for op, arg in instructions if op == "FROM"]
    assert base and all(re.match(r"python:3\.11\.\d+-slim", image) for image in base), base
    users = [arg.strip() for op, arg in instructions if op == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert ("EXPOSE", "6066") in instructions
    assert ("ENTRYPOINT", '["python", "-m", "stream"]') in instructions
    for op, arg in instructions:
        if op == "COPY" and not arg.startswith("--from"):
            for source in arg.split()[:-1]:
                if not source.startswith("--"):
                    assert (ROOT / source).exists(), f"COPY {source}: missing"


def test_the_build_context_leaves_out_local_state():
    ignored = {line.strip().rstrip("/") for line in (ROOT / ".dockerignore").read_text().splitlines()}
    assert {".venv", ".kafka-local", "deploy/kafka/target", ".git"} <= ignored


def test_the_example_policy_loads_and_shows_every_key():
    policy = load_policy(POLICY)
    assert policy.response.deadline_seconds == 300
    assert policy.reps
    text = POLICY.read_text()
    for section, field in Policy.model_fields.items():
        assert re.search(rf"^\[\[?{section}\]\]?$", text, re.M), f"[{section}] missing"
        model = field.annotation
        if section == "reps":
            continue
        for key in model.model_fields:
            assert re.search(rf"^#? ?{key} =", text, re.M), f"{section}.{key} missing from {POLICY.name}"
