"""Topic configurations the worker creates."""

from stream.adapters.topics import COMPACTED, SEGMENT_STATS, all_topics
from stream.settings import Settings


def test_the_segment_snapshots_topic_rolls_often_enough_to_be_compacted():
    # Rewritten every second per key: with Kafka's weekly roll nothing is
    # compacted, and every worker start reads every snapshot ever published.
    settings = Settings()
    specs = {spec.name: spec.configs for spec in all_topics(settings)}
    snapshots = specs[settings.topic(SEGMENT_STATS)]
    assert snapshots["cleanup.policy"] == "compact"
    assert int(snapshots["segment.ms"]) <= 3_600_000
    assert specs[settings.topic("reps")] == COMPACTED
