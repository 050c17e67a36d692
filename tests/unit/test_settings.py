"""Settings from SLA_* environment variables (SPEC §8), validated once at start:
an invalid value stops start-up with a message naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from stream.policy import PolicyError
from stream.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
BAD_POLICY = "[response]\ndeadline_seconds = -5\n"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """No SLA_* variable of the developer's shell leaks into a test."""
    for name in list(os.environ):
        if name.upper().startswith("SLA_"):
            monkeypatch.delenv(name)


def refused(monkeypatch, **env: str) -> str:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(PolicyError) as info:
        load_settings()
    return str(info.value)


# -- defaults and overrides -----------------------------------------------------------------


def test_defaults_are_the_specs():
    settings = load_settings()
    assert settings.kafka_bootstrap == "127.0.0.1:9092"
    assert settings.app_id == "smarketing-sla"
    assert settings.topic_prefix == ""
    assert settings.partitions == 8
    assert settings.web_port == 6066
    assert settings.store == "rocksdb://"
    assert settings.policy_file is None
    assert settings.max_rep_labels == 2000
    assert settings.kafka_security_protocol == "PLAINTEXT"
    assert settings.kafka_sasl_mechanism is None


def test_without_a_policy_file_the_default_policy_applies():
    assert load_settings().policy.response.deadline_seconds == 300


def test_environment_overrides(monkeypatch, tmp_path):
    policy = tmp_path / "policy.toml"
    policy.write_text("[response]\ndeadline_seconds = 120\n", encoding="utf-8")
    ca = tmp_path / "ca.pem"
    ca.write_text("")
    env = {
        "SLA_KAFKA_BOOTSTRAP": "kafka-1:9092,kafka-2:19092",
        "SLA_APP_ID": "acme-sla",
        "SLA_TOPIC_PREFIX": "acme.",
        "SLA_PARTITIONS": "16",
        "SLA_WEB_PORT": "7000",
        "SLA_STORE": "memory://",
        "SLA_DATA_DIR": str(tmp_path / "data"),
        "SLA_POLICY_FILE": str(policy),
        "SLA_MAX_REP_LABELS": "50",
        "SLA_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "SLA_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "SLA_KAFKA_SASL_USERNAME": "sla",
        "SLA_KAFKA_SASL_PASSWORD": "s3cret",
        "SLA_KAFKA_SSL_CAFILE": str(ca),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert settings.kafka_bootstrap == "kafka-1:9092,kafka-2:19092"
    assert settings.app_id == "acme-sla"
    assert settings.topic_prefix == "acme."
    assert settings.partitions == 16
    assert settings.web_port == 7000
    assert settings.store == "memory://"
    assert settings.data_dir == tmp_path / "data"
    assert settings.policy_file == policy
    assert settings.policy.response.deadline_seconds == 120
    assert settings.max_rep_labels == 50
    assert settings.kafka_security_protocol == "SASL_SSL"
    assert settings.kafka_sasl_mechanism == "SCRAM-SHA-512"
    assert (settings.kafka_sasl_username, settings.kafka_sasl_password) == ("sla", "s3cret")
    assert settings.kafka_ssl_cafile == ca


def test_rocksdb_store_may_carry_a_path(monkeypatch):
    monkeypatch.setenv("SLA_STORE", "rocksdb:///var/lib/sla")
    assert load_settings().store == "rocksdb:///var/lib/sla"


def test_unrelated_variables_are_ignored(monkeypatch):
    monkeypatch.setenv("SLA_NOT_A_SETTING", "whatever")
    monkeypatch.setenv("PARTITIONS", "0")
    assert load_settings().partitions == 8


def test_keyword_overrides_beat_the_environment(monkeypatch):
    monkeypatch.setenv("SLA_PARTITIONS", "4")
    assert load_settings().partitions == 4
    assert load_settings(partitions=2).partitions == 2


def test_settings_are_frozen():
    settings = load_settings()
    with pytest.raises(Exception):
        settings.partitions = 3  # type: ignore[misc]


@pytest.mark.parametrize("prefix", ["", "acme.", "test-1a2b_"])
def test_topic_applies_the_prefix(monkeypatch, prefix):
    monkeypatch.setenv("SLA_TOPIC_PREFIX", prefix)
    settings = load_settings()
    for name in ("lead-created", "reps", "sla-breaches", "dead-letter", "sla-ticks"):
        assert settings.topic(name) == prefix + name


def test_topic_without_prefix_is_the_contract_name():
    assert Settings().topic("lead-created") == "lead-created"


# -- invalid values -------------------------------------------------------------------------

INVALID = [
    ("SLA_PARTITIONS", "0"),
    ("SLA_PARTITIONS", "-1"),
    ("SLA_PARTITIONS", "abc"),
    ("SLA_PARTITIONS", "1.5"),
    ("SLA_PARTITIONS", ""),
    ("SLA_PARTITIONS", "100000"),
    ("SLA_STORE", "redis://"),
    ("SLA_STORE", "rocksdb"),
    ("SLA_STORE", ""),
    ("SLA_KAFKA_BOOTSTRAP", "nohost"),
    ("SLA_KAFKA_BOOTSTRAP", ""),
    ("SLA_KAFKA_BOOTSTRAP", "host:"),
    ("SLA_KAFKA_BOOTSTRAP", ":9092"),
    ("SLA_KAFKA_BOOTSTRAP", "host:port"),
    ("SLA_KAFKA_BOOTSTRAP", "host:99999"),
    ("SLA_KAFKA_BOOTSTRAP", "host:0"),
    ("SLA_KAFKA_BOOTSTRAP", "a:9092,,b:9092"),
    ("SLA_KAFKA_BOOTSTRAP", "a:9092,b"),
    ("SLA_WEB_PORT", "99999"),
    ("SLA_WEB_PORT", "-1"),
    ("SLA_WEB_PORT", "http"),
    ("SLA_APP_ID", ""),
    ("SLA_APP_ID", "my app"),
    ("SLA_TOPIC_PREFIX", "a/b"),
    ("SLA_TOPIC_PREFIX", "with space"),
    ("SLA_REPLICATION_FACTOR", "0"),
    ("SLA_MAX_REP_LABELS", "0"),
    ("SLA_SWEEP_INTERVAL_SECONDS", "0"),
    ("SLA_SWEEP_INTERVAL_SECONDS", "nan"),
    ("SLA_DEDUPE_IDS_PER_LEAD", "1"),
    ("SLA_KAFKA_SECURITY_PROTOCOL", "TLS"),
    ("SLA_KAFKA_SECURITY_PROTOCOL", "plaintext"),
    ("SLA_KAFKA_SASL_MECHANISM", "GSSAPI"),
]


@pytest.mark.parametrize("name,value", INVALID)
def test_invalid_value_is_refused_naming_the_variable(monkeypatch, name, value):
    message = refused(monkeypatch, **{name: value})
    assert message.startswith(f"{name}: "), message
    assert len(message.splitlines()) == 1


def test_every_invalid_variable_is_reported_at_once(monkeypatch):
    message = refused(monkeypatch, SLA_PARTITIONS="0", SLA_STORE="redis://", SLA_WEB_PORT="99999")
    names = {line.split(":", 1)[0] for line in message.splitlines()}
    assert names == {"SLA_PARTITIONS", "SLA_STORE", "SLA_WEB_PORT"}


def test_messages_say_what_is_expected(monkeypatch):
    assert "rocksdb:// or memory://" in refused(monkeypatch, SLA_STORE="redis://")
    assert "host:port" in refused(monkeypatch, SLA_KAFKA_BOOTSTRAP="nohost")


def test_keyword_override_errors_name_the_variable():
    with pytest.raises(PolicyError, match=r"^SLA_PARTITIONS: "):
        load_settings(partitions=0)


def test_missing_policy_file_names_sla_policy_file(monkeypatch, tmp_path):
    message = refused(monkeypatch, SLA_POLICY_FILE=str(tmp_path / "missing.toml"))
    assert message.startswith("SLA_POLICY_FILE: no such file")


def test_policy_file_that_is_a_folder_names_sla_policy_file(monkeypatch, tmp_path):
    assert refused(monkeypatch, SLA_POLICY_FILE=str(tmp_path)).startswith("SLA_POLICY_FILE: ")


def test_invalid_policy_file_stops_start_naming_the_policy_key(monkeypatch, tmp_path):
    path = tmp_path / "policy.toml"
    path.write_text(BAD_POLICY, encoding="utf-8")
    message = refused(monkeypatch, SLA_POLICY_FILE=str(path))
    assert message.startswith(f"{path}: response.deadline_seconds: ")


def test_policy_with_a_typo_stops_start(monkeypatch, tmp_path):
    path = tmp_path / "policy.toml"
    path.write_text("[calendar]\ntimezon = 'UTC'\n", encoding="utf-8")
    assert "calendar.timezon: unknown key" in refused(monkeypatch, SLA_POLICY_FILE=str(path))


# -- the worker refuses to start ------------------------------------------------------------


def run_worker(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.upper().startswith("SLA_")}
    # Unreachable on purpose: validation must stop the worker before any Kafka client exists.
    clean.update(SLA_KAFKA_BOOTSTRAP="127.0.0.1:9", SLA_DATA_DIR=str(tmp_path / "data"), **env)
    return subprocess.run(
        [sys.executable, "-m", "stream", "worker"],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_worker_with_an_invalid_setting_exits_naming_the_variable(tmp_path):
    result = run_worker(tmp_path, SLA_PARTITIONS="0")
    assert result.returncode != 0
    assert "SLA_PARTITIONS" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "data").exists()


def test_worker_with_an_invalid_policy_exits_naming_the_key(tmp_path):
    path = tmp_path / "policy.toml"
    path.write_text(BAD_POLICY, encoding="utf-8")
    result = run_worker(tmp_path, SLA_POLICY_FILE=str(path))
    assert result.returncode != 0
    assert "response.deadline_seconds" in result.stderr
    assert "Traceback" not in result.stderr
