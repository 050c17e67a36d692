"""Kafka security, the HTTP token and the log format as settings: each
protocol's combination is checked at start, naming the variable; secrets
never show in a message or a repr; every Kafka client gets the same options."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
from pathlib import Path

import faust
import pytest

from stream.adapters.kafka import KafkaSecurityError, client_kwargs, describe, ssl_context
from stream.bootstrap import _credentials
from stream.policy import PolicyError
from stream.settings import load_settings
from tests.support.certs import make_ca

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in list(os.environ):
        if name.upper().startswith("SLA_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="module")
def cafile(tmp_path_factory) -> Path:
    """A real CA certificate (PEM), made once with the JDK's keytool."""
    return make_ca(tmp_path_factory.mktemp("ca"), name="test-ca").pem


def refused(monkeypatch, **env: str) -> str:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(PolicyError) as info:
        load_settings()
    return str(info.value)


def settings_with(monkeypatch, **env: str):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return load_settings()


SASL = {"SLA_KAFKA_SASL_USERNAME": "sla", "SLA_KAFKA_SASL_PASSWORD": "pa55-word"}


# -- combinations -------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", ["SASL_PLAINTEXT", "SASL_SSL"])
@pytest.mark.parametrize("missing", ["SLA_KAFKA_SASL_USERNAME", "SLA_KAFKA_SASL_PASSWORD"])
def test_sasl_needs_user_and_password(monkeypatch, protocol, missing):
    env = {k: v for k, v in SASL.items() if k != missing}
    message = refused(monkeypatch, SLA_KAFKA_SECURITY_PROTOCOL=protocol, **env)
    assert message == f"{missing}: required with SLA_KAFKA_SECURITY_PROTOCOL={protocol}"


def test_an_empty_password_is_a_missing_one(monkeypatch):
    message = refused(monkeypatch, SLA_KAFKA_SECURITY_PROTOCOL="SASL_SSL", SLA_KAFKA_SASL_USERNAME="sla",
                      SLA_KAFKA_SASL_PASSWORD="")
    assert message.startswith("SLA_KAFKA_SASL_PASSWORD: required")


@pytest.mark.parametrize("protocol", ["PLAINTEXT", "SSL"])
def test_sasl_settings_without_a_sasl_protocol_are_refused(monkeypatch, protocol):
    message = refused(
        monkeypatch, SLA_KAFKA_SECURITY_PROTOCOL=protocol, SLA_KAFKA_SASL_MECHANISM="SCRAM-SHA-256", **SASL
    )
    names = [line.split(":", 1)[0] for line in message.splitlines()]
    assert names == ["SLA_KAFKA_SASL_MECHANISM", "SLA_KAFKA_SASL_USERNAME", "SLA_KAFKA_SASL_PASSWORD"]
    assert f"(it is {protocol})" in message


@pytest.mark.parametrize("protocol", ["PLAINTEXT", "SASL_PLAINTEXT"])
def test_a_ca_file_without_tls_is_refused(monkeypatch, cafile, protocol):
    env = SASL if protocol.startswith("SASL") else {}
    message = refused(monkeypatch, SLA_KAFKA_SECURITY_PROTOCOL=protocol, SLA_KAFKA_SSL_CAFILE=str(cafile), **env)
    assert message.startswith("SLA_KAFKA_SSL_CAFILE: only used with SLA_KAFKA_SECURITY_PROTOCOL=SSL or SASL_SSL")


def test_a_ca_file_that_does_not_exist_is_refused(monkeypatch, tmp_path):
    missing = tmp_path / "nowhere.pem"
    message = refused(monkeypatch, SLA_KAFKA_SECURITY_PROTOCOL="SSL", SLA_KAFKA_SSL_CAFILE=str(missing))
    assert message == f"SLA_KAFKA_SSL_CAFILE: no such file: {missing}"


def test_a_ca_file_that_is_not_pem_is_named_when_the_context_is_built(monkeypatch, tmp_path):
    bogus = tmp_path / "ca.pem"
    bogus.write_text("not a certificate")
    settings = settings_with(monkeypatch, SLA_KAFKA_SECURITY_PROTOCOL="SSL", SLA_KAFKA_SSL_CAFILE=str(bogus))
    with pytest.raises(KafkaSecurityError, match=r"^SLA_KAFKA_SSL_CAFILE: .* is not a readable PEM CA certificate"):
        ssl_context(settings)


def test_problems_of_several_variables_are_reported_at_once(monkeypatch, tmp_path):
    message = refused(
        monkeypatch,
        SLA_KAFKA_SECURITY_PROTOCOL="SASL_SSL",
        SLA_KAFKA_SSL_CAFILE=str(tmp_path / "missing.pem"),
        SLA_PARTITIONS="0",
    )
    assert {line.split(":", 1)[0] for line in message.splitlines()} == {"SLA_KAFKA_SSL_CAFILE", "SLA_PARTITIONS"}


@pytest.mark.parametrize("name", ["SLA_KAFKA_SASL_MECHANISM", "SLA_KAFKA_SSL_CAFILE", "SLA_HTTP_TOKEN"])
def test_empty_values_mean_unset(monkeypatch, name):
    settings = settings_with(monkeypatch, **{name: ""})
    assert settings.kafka_security_protocol == "PLAINTEXT"
    assert settings.http_token is None and settings.kafka_sasl_mechanism is None and settings.kafka_ssl_cafile is None


# -- secrets stay secret --------------------------------------------------------------------


def test_secrets_are_not_in_repr_nor_in_errors(monkeypatch):
    settings = settings_with(
        monkeypatch, SLA_KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT", SLA_HTTP_TOKEN="t0ken-value", **SASL
    )
    assert "pa55-word" not in repr(settings) and "t0ken-value" not in repr(settings)
    message = refused(monkeypatch, SLA_KAFKA_SECURITY_PROTOCOL="PLAINTEXT", SLA_PARTITIONS="zero")
    assert "pa55-word" not in message and "t0ken-value" not in message


@pytest.mark.parametrize("token", ["has space", "tab\tinside", "ünïcode"])
def test_a_token_must_travel_in_a_header(monkeypatch, token):
    assert refused(monkeypatch, SLA_HTTP_TOKEN=token).startswith("SLA_HTTP_TOKEN: must be printable ASCII")


@pytest.mark.parametrize("value", ["xml", "JSON", "logfmt"])
def test_log_format_is_text_or_json(monkeypatch, value):
    assert refused(monkeypatch, SLA_LOG_FORMAT=value).startswith("SLA_LOG_FORMAT: ")
    monkeypatch.setenv("SLA_LOG_FORMAT", "json")
    assert load_settings().log_format == "json"


# -- the same options for every client -----------------------------------------------------


def test_plaintext_clients_have_no_security_options(monkeypatch):
    settings = settings_with(monkeypatch)
    assert client_kwargs(settings) == {"bootstrap_servers": "127.0.0.1:9092", "security_protocol": "PLAINTEXT"}
    assert _credentials(settings) is None


def test_ssl_clients_trust_the_ca_file_and_check_host_names(monkeypatch, cafile):
    settings = settings_with(monkeypatch, SLA_KAFKA_SECURITY_PROTOCOL="SSL", SLA_KAFKA_SSL_CAFILE=str(cafile))
    kwargs = client_kwargs(settings)
    assert kwargs["security_protocol"] == "SSL"
    context = kwargs["ssl_context"]
    assert context.check_hostname and context.verify_mode == ssl.CERT_REQUIRED
    assert [c["subject"] for c in context.get_ca_certs()] == [((("commonName", "test-ca"),),)]
    credentials = _credentials(settings)
    assert isinstance(credentials, faust.SSLCredentials)
    assert credentials.context.get_ca_certs() == context.get_ca_certs()


@pytest.mark.parametrize("mechanism", [None, "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
@pytest.mark.parametrize("protocol", ["SASL_PLAINTEXT", "SASL_SSL"])
def test_sasl_clients_log_in_with_the_mechanism(monkeypatch, cafile, protocol, mechanism):
    env = {**SASL, "SLA_KAFKA_SECURITY_PROTOCOL": protocol}
    if mechanism:
        env["SLA_KAFKA_SASL_MECHANISM"] = mechanism
    if protocol == "SASL_SSL":
        env["SLA_KAFKA_SSL_CAFILE"] = str(cafile)
    settings = settings_with(monkeypatch, **env)
    kwargs = client_kwargs(settings)
    expected = mechanism or "PLAIN"
    assert (kwargs["sasl_mechanism"], kwargs["sasl_plain_username"], kwargs["sasl_plain_password"]) == (
        expected, "sla", "pa55-word")
    assert ("ssl_context" in kwargs) == (protocol == "SASL_SSL")
    # Faust's worker clients: the same protocol, login and TLS.
    credentials = _credentials(settings)
    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials.protocol.value == protocol and credentials.mechanism.value == expected
    assert (credentials.username, credentials.password) == ("sla", "pa55-word")
    assert "pa55-word" not in repr(credentials)


# -- handshake failures in words -------------------------------------------------------------


def test_a_refused_login_names_the_variables(monkeypatch):
    from aiokafka.errors import SaslAuthenticationFailed

    settings = settings_with(
        monkeypatch, SLA_KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT", SLA_KAFKA_SASL_MECHANISM="SCRAM-SHA-512", **SASL
    )
    text = describe(SaslAuthenticationFailed("Authentication failed"), settings, "k1:9093")
    assert "Kafka at k1:9093 refused the SCRAM-SHA-512 login of SLA_KAFKA_SASL_USERNAME='sla'" in text
    assert "SLA_KAFKA_SASL_PASSWORD" in text and "pa55-word" not in text


def test_an_untrusted_certificate_names_the_ca_variable(monkeypatch, cafile):
    settings = settings_with(monkeypatch, SLA_KAFKA_SECURITY_PROTOCOL="SSL", SLA_KAFKA_SSL_CAFILE=str(cafile))
    error = ssl.SSLCertVerificationError(1, "certificate verify failed")
    error.verify_message = "self-signed certificate"
    text = describe(error, settings, "k1:9093")
    assert f"not trusted by the CA in SLA_KAFKA_SSL_CAFILE={cafile}: self-signed certificate" in text


def test_a_closed_handshake_asks_about_the_protocol(monkeypatch):
    from aiokafka.errors import KafkaConnectionError

    settings = settings_with(monkeypatch)
    text = describe(KafkaConnectionError("Connection at k1:9093 closed"), settings, "k1:9093")
    assert "does SLA_KAFKA_SECURITY_PROTOCOL=PLAINTEXT match that listener?" in text


# -- commands -------------------------------------------------------------------------------


def test_a_command_with_a_bad_combination_exits_naming_the_variable(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("SLA_")}
    env.update(SLA_KAFKA_SECURITY_PROTOCOL="SASL_SSL", SLA_KAFKA_SASL_USERNAME="sla", SLA_KAFKA_BOOTSTRAP="127.0.0.1:9")
    for command in (["worker"], ["topics"], ["tail", "--timeout", "1"]):
        result = subprocess.run(
            [sys.executable, "-m", "stream", *command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 2, (command, result.stderr)
        assert "SLA_KAFKA_SASL_PASSWORD: required with SLA_KAFKA_SECURITY_PROTOCOL=SASL_SSL" in result.stderr
        assert "Traceback" not in result.stderr
