"""Process settings from the environment (SPEC §8), built once at start."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from stream.policy import Policy, PolicyError, load_policy


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SLA_", frozen=True, extra="ignore")

    kafka_bootstrap: str = "127.0.0.1:9092"
    app_id: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9._-]+$")] = "smarketing-sla"
    topic_prefix: Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]*$")] = ""
    partitions: Annotated[int, Field(ge=1, le=1024)] = 8
    replication_factor: Annotated[int, Field(ge=1)] = 1
    policy_file: Path | None = None
    web_port: Annotated[int, Field(ge=0, le=65535)] = 6066
    web_host: str = "0.0.0.0"
    # How other workers reach this one (requests for another worker's leads are forwarded).
    web_advertised_host: str | None = None
    data_dir: Path = Path(".sla-data")
    store: str = "rocksdb://"
    max_rep_labels: Annotated[int, Field(ge=1)] = 2000
    # How often the sweeper looks for due SLA stages (seconds).
    sweep_interval_seconds: Annotated[float, Field(gt=0, le=60)] = 0.1
    # Create missing topics at worker start (as `python -m stream topics` does).
    create_topics: bool = True
    # A worker that dies is noticed after this long; its partitions move then.
    kafka_session_timeout_seconds: Annotated[float, Field(ge=6, le=300)] = 10
    # How long a partition may go unprocessed before Faust logs it as stalled
    # (its stream_processing_timeout); tests shorten it.
    stall_timeout_seconds: Annotated[float, Field(gt=0, le=3600)] = 300
    # Hot standby copies of each lead-table partition on other workers
    # (Faust's table_standby_replicas): a failover then reads only the tail
    # of the changelog instead of restoring the whole partition.
    standby_replicas: Annotated[int, Field(ge=0, le=5)] = 0
    # Event ids remembered per lead for duplicate detection.
    dedupe_ids_per_lead: Annotated[int, Field(ge=16, le=100_000)] = 1024
    # Events kept per lead; later ones go to dead-letter (docs/limits.md).
    max_events_per_lead: Annotated[int, Field(ge=16, le=20_000)] = 1000

    # Kafka security (docs/security.md). Every Kafka client of the service
    # (the worker's and every command's) is built from these.
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    # Unset with a SASL protocol means PLAIN, as in every Kafka client.
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    kafka_sasl_username: str | None = None
    # Secrets stay out of repr() (and load_settings never echoes an input).
    kafka_sasl_password: Annotated[str | None, Field(repr=False)] = None
    # PEM file of the CA that signed the brokers' certificates; unset: the
    # system's trust store.
    kafka_ssl_cafile: Path | None = None

    # When set, every HTTP path but /healthz, /readyz and /metrics needs
    # `Authorization: Bearer <token>`; workers send it to each other.
    http_token: Annotated[str | None, Field(repr=False)] = None
    # `text` (Faust's layout) or `json` (one object per line) for the worker's log.
    log_format: Literal["text", "json"] = "text"

    @field_validator("store")
    @classmethod
    def _known_store(cls, value: str) -> str:
        if not (value.startswith("rocksdb://") or value.startswith("memory://")):
            raise ValueError("must be rocksdb:// or memory://")
        return value

    @field_validator("kafka_bootstrap")
    @classmethod
    def _hosts(cls, value: str) -> str:
        for host in value.split(","):
            name, _, port = host.strip().rpartition(":")
            if not name or not port.isdigit() or not 0 < int(port) <= 65535:
                raise ValueError(f"expected host:port[,host:port...] with ports 1-65535, got {value!r}")
        return value

    @field_validator(
        "kafka_sasl_mechanism", "kafka_sasl_username", "kafka_sasl_password", "kafka_ssl_cafile", "http_token",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value):
        # `SLA_HTTP_TOKEN=` (e.g. `${SLA_HTTP_TOKEN:-}` in compose) means "not set".
        return None if value == "" else value

    @field_validator("http_token")
    @classmethod
    def _header_safe(cls, value: str | None) -> str | None:
        if value is not None and not all(33 <= ord(c) <= 126 for c in value):
            raise ValueError("must be printable ASCII without spaces (it travels in an HTTP header)")
        return value

    @field_validator("kafka_ssl_cafile")
    @classmethod
    def _readable_file(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"no such file: {value}")
        return value

    @model_validator(mode="after")
    def _security_combination(self) -> Settings:
        # Settings that only apply to another protocol are refused rather than
        # ignored: a forgotten SLA_KAFKA_SECURITY_PROTOCOL would otherwise send
        # everything in the clear without a word.
        protocol = self.kafka_security_protocol
        sasl = protocol.startswith("SASL_")
        problems = []
        if sasl:
            for name, value in (("USERNAME", self.kafka_sasl_username), ("PASSWORD", self.kafka_sasl_password)):
                if value is None:
                    problems.append(f"SLA_KAFKA_SASL_{name}: required with SLA_KAFKA_SECURITY_PROTOCOL={protocol}")
        else:
            for name, value in (
                ("MECHANISM", self.kafka_sasl_mechanism),
                ("USERNAME", self.kafka_sasl_username),
                ("PASSWORD", self.kafka_sasl_password),
            ):
                if value is not None:
                    problems.append(
                        f"SLA_KAFKA_SASL_{name}: only used with SLA_KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT"
                        f" or SASL_SSL (it is {protocol})"
                    )
        if self.kafka_ssl_cafile is not None and protocol not in ("SSL", "SASL_SSL"):
            problems.append(
                f"SLA_KAFKA_SSL_CAFILE: only used with SLA_KAFKA_SECURITY_PROTOCOL=SSL or SASL_SSL (it is {protocol})"
            )
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def topic(self, name: str) -> str:
        """The Kafka topic name for a contract topic name."""
        return f"{self.topic_prefix}{name}"

    @cached_property
    def policy(self) -> Policy:
        return load_policy(self.policy_file)


def load_settings(**overrides) -> Settings:
    """Settings from the environment; raises PolicyError naming the variable or key."""
    settings = read_settings(**overrides)
    settings.policy  # noqa: B018 - validate the policy file at start, not at first use
    return settings


def read_settings(**overrides) -> Settings:
    """Settings from the environment without loading the policy file (for
    commands that take their own); raises PolicyError naming the variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for err in exc.errors(include_input=False):
            message = err["msg"].removeprefix("Value error, ")
            if not err["loc"]:  # a check across variables: its lines name them
                lines.extend(message.splitlines())
                continue
            key = "SLA_" + "_".join(str(p) for p in err["loc"]).upper()
            lines.append(f"{key}: {message}")
        raise PolicyError("\n".join(lines)) from None
