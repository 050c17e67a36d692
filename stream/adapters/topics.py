"""Every topic the service reads or writes, with its Kafka configs.

Contract names (``lead-created``) become Kafka names through
``Settings.topic`` (``SLA_TOPIC_PREFIX`` + name). Lead topics, the
``sla-emitted`` topic and the lead table's changelog share one partition
count, so one partition of each holds the same leads.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from stream.settings import Settings

LEAD_INPUTS = ("lead-created", "content-downloaded", "call-attempt", "lead-assigned", "opportunity-created")
REPS = "reps"
OUTPUTS = ("lead-scored", "sla-breaches", "dead-letter")
# internal: what the sweeper emitted, per partition, for the leads' states
EMITTED = "sla-emitted"
# internal, compacted: each partition's segment evidence, read by every worker
SEGMENT_STATS = "sla-segment-stats"
# internal, compacted: the marketing checks made per rep, read by every worker
MARKETING_CHECKS = "sla-marketing-checks"

COMPACTED = {"cleanup.policy": "compact"}
# Compacted and rewritten every second per key: roll a segment every ten
# minutes so the cleaner can compact it, or every worker start reads every
# snapshot ever published (Kafka's default rolls weekly).
SNAPSHOTS = {**COMPACTED, "segment.ms": str(600_000), "min.cleanable.dirty.ratio": "0.1"}


@dataclass(frozen=True)
class TopicSpec:
    name: str  # Kafka name, prefix included
    partitions: int
    configs: dict[str, str] = field(default_factory=dict)


def changelog_name(settings: Settings, table: str) -> str:
    return settings.topic(f"{settings.app_id}-{table}-changelog")


def all_topics(settings: Settings) -> list[TopicSpec]:
    n = settings.partitions
    specs = [TopicSpec(settings.topic(name), n) for name in LEAD_INPUTS]
    specs.append(TopicSpec(settings.topic(REPS), n, COMPACTED))
    specs += [TopicSpec(settings.topic(name), n) for name in OUTPUTS]
    # Needed until the lead's state records it (seconds), or after an outage.
    specs.append(TopicSpec(settings.topic(EMITTED), n, {"retention.ms": str(7 * 86_400_000)}))
    specs.append(TopicSpec(settings.topic(SEGMENT_STATS), n, SNAPSHOTS))
    specs.append(TopicSpec(settings.topic(MARKETING_CHECKS), n, COMPACTED))
    specs.append(TopicSpec(changelog_name(settings, "leads"), n, COMPACTED))
    return specs


async def create_topics(settings: Settings, wait_seconds: float = 60) -> list[tuple[str, str]]:
    """Create missing topics and wait until the broker lists them all;
    returns (name, 'created' | 'exists') pairs."""
    import asyncio
    import time

    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    from stream.adapters.kafka import client_kwargs

    admin = AIOKafkaAdminClient(**client_kwargs(settings))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        specs = all_topics(settings)
        new = [
            NewTopic(s.name, s.partitions, settings.replication_factor, topic_configs=s.configs)
            for s in specs
            if s.name not in existing
        ]
        if new:
            response = await admin.create_topics(new)
            failed = [
                f"{name}: {message or code}"
                for name, code, message in (tuple(e)[:3] for e in response.topic_errors)
                if code not in (0, 36)  # 36: created meanwhile by someone else
            ]
            if failed:
                raise RuntimeError("could not create topics: " + "; ".join(failed))
            # A created topic shows in metadata a little later; a worker that
            # subscribes before then would be assigned none of its partitions.
            wanted = {s.name for s in specs}
            deadline = time.monotonic() + wait_seconds
            while not wanted <= set(await admin.list_topics()):
                if time.monotonic() > deadline:
                    raise RuntimeError("created topics did not appear in the broker's metadata")
                await asyncio.sleep(0.2)
        return [(s.name, "exists" if s.name in existing else "created") for s in specs]
    finally:
        await admin.close()


class PartitionMismatch(ValueError):
    """The lead topics exist with different partition counts: not co-partitioned."""


async def settle_partitions(settings: Settings) -> Settings:
    """The settings with the partition count the lead topics already have.

    Lead topics created earlier (by another tool, or by a broker that creates
    topics on first use) decide the partition count: tables and internal
    topics must match them. Raises PartitionMismatch when they disagree.
    """
    from aiokafka.admin import AIOKafkaAdminClient

    from stream.adapters.kafka import client_kwargs

    admin = AIOKafkaAdminClient(**client_kwargs(settings))
    await admin.start()
    try:
        names = [settings.topic(name) for name in LEAD_INPUTS]
        existing = [n for n in names if n in set(await admin.list_topics())]
        if not existing:
            return settings
        counts = {t["topic"]: len(t["partitions"]) for t in await admin.describe_topics(existing)}
    finally:
        await admin.close()
    found = set(counts.values())
    if len(found) > 1:
        detail = ", ".join(f"{name}: {n}" for name, n in sorted(counts.items()))
        raise PartitionMismatch(f"lead topics must have one partition count (co-partitioning); found {detail}")
    (count,) = found
    if count != settings.partitions:
        return settings.model_copy(update={"partitions": count})
    return settings
