"""Plain aiokafka clients configured from Settings (security included).

Used by the commands that talk to Kafka without a Faust app: topics,
simulate, replay, tail. Lead topics are keyed by ``lead_id`` and every
producer here uses aiokafka's default murmur2 partitioner, so they stay
co-partitioned with what Java clients write.
"""

from __future__ import annotations

import ssl
from typing import Any

from stream.settings import Settings


def client_kwargs(settings: Settings) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap,
        "security_protocol": settings.kafka_security_protocol,
    }
    if settings.kafka_security_protocol in ("SSL", "SASL_SSL"):
        context = ssl.create_default_context(
            cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
        )
        kwargs["ssl_context"] = context
    if settings.kafka_security_protocol.startswith("SASL"):
        kwargs["sasl_mechanism"] = settings.kafka_sasl_mechanism or "PLAIN"
        kwargs["sasl_plain_username"] = settings.kafka_sasl_username
        kwargs["sasl_plain_password"] = settings.kafka_sasl_password
    return kwargs


def producer(settings: Settings, **extra: Any):
    from aiokafka import AIOKafkaProducer

    return AIOKafkaProducer(**client_kwargs(settings), acks="all", linger_ms=5, **extra)


def consumer(settings: Settings, *topics: str, **extra: Any):
    from aiokafka import AIOKafkaConsumer

    return AIOKafkaConsumer(*topics, **client_kwargs(settings), **extra)
