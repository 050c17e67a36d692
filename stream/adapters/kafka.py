"""Plain aiokafka clients configured from Settings (security included).

Used by the commands that talk to Kafka without a Faust app: topics,
simulate, replay, tail, due. Lead topics are keyed by ``lead_id`` and every
producer here uses aiokafka's default murmur2 partitioner, so they stay
co-partitioned with what Java clients write.

aiokafka reports a refused login or an untrusted certificate only as
"Unable to bootstrap" (the reason goes to its log). ``security_problem``
connects once itself to say what is wrong in words, naming the variable to
fix; the clients made here and the worker's start-up use it.
"""

from __future__ import annotations

import asyncio
import ssl
from functools import cache
from typing import Any

from stream.settings import Settings

SSL_PROTOCOLS = ("SSL", "SASL_SSL")


class KafkaSecurityError(Exception):
    """The broker refused this client's security settings, or they cannot be
    used; the message names the variable to fix."""


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """The TLS context of SSL and SASL_SSL (None for the others): the CA of
    SLA_KAFKA_SSL_CAFILE, else the system's trust store, with host names checked."""
    if settings.kafka_security_protocol not in SSL_PROTOCOLS:
        return None
    cafile = settings.kafka_ssl_cafile
    try:
        return ssl.create_default_context(cafile=str(cafile) if cafile else None)
    except (ssl.SSLError, OSError) as exc:
        message = f"SLA_KAFKA_SSL_CAFILE: {cafile} is not a readable PEM CA certificate: {exc}"
        raise KafkaSecurityError(message) from None


def client_kwargs(settings: Settings) -> dict[str, Any]:
    """aiokafka's connection arguments for producers, consumers and admin clients."""
    kwargs: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap,
        "security_protocol": settings.kafka_security_protocol,
    }
    context = ssl_context(settings)
    if context is not None:
        kwargs["ssl_context"] = context
    if settings.kafka_security_protocol.startswith("SASL_"):
        kwargs["sasl_mechanism"] = settings.kafka_sasl_mechanism or "PLAIN"
        kwargs["sasl_plain_username"] = settings.kafka_sasl_username
        kwargs["sasl_plain_password"] = settings.kafka_sasl_password
    return kwargs


async def security_problem(settings: Settings, timeout: float = 10.0) -> str | None:
    """What the brokers say about our security settings, in words naming the
    variable to fix; None when a broker accepts them, or when none answers at
    all (unreachable is not a security problem: callers retry or report it)."""
    from aiokafka.conn import create_conn

    kwargs = {k: v for k, v in client_kwargs(settings).items() if k != "bootstrap_servers"}
    first = None
    for address in settings.kafka_bootstrap.split(","):
        host, _, port = address.strip().rpartition(":")
        try:
            # A bare TCP connect first: what fails after it is the handshake.
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), timeout)
            writer.close()
        except (OSError, TimeoutError):
            continue
        try:
            conn = await create_conn(host, int(port), request_timeout_ms=int(timeout * 1000), **kwargs)
        except Exception as exc:  # noqa: BLE001 - every failure is described, none escapes
            first = first or describe(exc, settings, f"{host}:{port}")
            continue
        conn.close()
        return None
    return first


def describe(exc: BaseException, settings: Settings, address: str) -> str:
    """A failed handshake with the broker at ``address``, in words."""
    from aiokafka import errors

    protocol = settings.kafka_security_protocol
    mechanism = settings.kafka_sasl_mechanism or "PLAIN"
    if isinstance(exc, errors.SaslAuthenticationFailed):
        return (
            f"Kafka at {address} refused the {mechanism} login of SLA_KAFKA_SASL_USERNAME="
            f"{settings.kafka_sasl_username!r}: check SLA_KAFKA_SASL_USERNAME and SLA_KAFKA_SASL_PASSWORD"
            f" (broker: {exc})"
        )
    if isinstance(exc, errors.UnsupportedSaslMechanismError):
        offered = str(exc).partition("Enabled mechanisms are:")[2].strip()
        return f"Kafka at {address} does not offer SLA_KAFKA_SASL_MECHANISM={mechanism}" + (
            f" (it offers {offered})" if offered else ""
        )
    if isinstance(exc, ssl.SSLCertVerificationError):
        where = (
            f"the CA in SLA_KAFKA_SSL_CAFILE={settings.kafka_ssl_cafile}"
            if settings.kafka_ssl_cafile
            else "the system's trust store (SLA_KAFKA_SSL_CAFILE names another CA)"
        )
        return f"the TLS certificate of Kafka at {address} is not trusted by {where}: {exc.verify_message}"
    if isinstance(exc, ssl.SSLError):
        return (
            f"the TLS handshake with Kafka at {address} failed ({exc.reason or exc}): is it a TLS listener?"
            f" SLA_KAFKA_SECURITY_PROTOCOL={protocol}"
        )
    # Closed or silent after the TCP connect: the listener speaks another protocol.
    return (
        f"Kafka at {address} answered the {protocol} handshake with {type(exc).__name__}:"
        f" does SLA_KAFKA_SECURITY_PROTOCOL={protocol} match that listener?"
    )


async def raise_security_problem(settings: Settings) -> None:
    """Raise KafkaSecurityError when the brokers refuse our security settings."""
    problem = await security_problem(settings)
    if problem is not None:
        raise KafkaSecurityError(problem)


@cache
def _client_classes():
    # Imported on first use: `due` without --bootstrap never loads aiokafka.
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    from aiokafka.errors import KafkaConnectionError

    class Explained:
        """A client whose failed start says why when the brokers refused our security settings."""

        _sla_settings: Settings

        async def start(self) -> None:
            try:
                await super().start()
            except KafkaConnectionError:
                await raise_security_problem(self._sla_settings)
                raise

    class Producer(Explained, AIOKafkaProducer):
        pass

    class Consumer(Explained, AIOKafkaConsumer):
        pass

    return Producer, Consumer


def producer(settings: Settings, **extra: Any):
    cls, _ = _client_classes()
    client = cls(**client_kwargs(settings), acks="all", linger_ms=5, **extra)
    client._sla_settings = settings
    return client


def consumer(settings: Settings, *topics: str, **extra: Any):
    _, cls = _client_classes()
    client = cls(*topics, **client_kwargs(settings), **extra)
    client._sla_settings = settings
    return client
