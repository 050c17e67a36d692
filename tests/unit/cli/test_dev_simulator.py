"""What ``python -m stream dev`` asks of the simulator: a round-the-clock
floor and, with ``--backfill``, the month so far replayed first, a second
run resuming it."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from types import SimpleNamespace

from stream.cli import dev

NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)  # 03:00 UTC on the 1st: the example


def args(**overrides) -> argparse.Namespace:
    """dev's arguments, with --backfill unless told otherwise."""
    parser = argparse.ArgumentParser()
    dev.register(parser)
    namespace = parser.parse_args(["--backfill"])
    for key, value in overrides.items():
        setattr(namespace, key, value)
    return namespace


def settings(tmp_path):
    return SimpleNamespace(data_dir=tmp_path, kafka_bootstrap="127.0.0.1:9092", topic_prefix="")


def option(command: list[str], name: str) -> str | None:
    return command[command.index(name) + 1] if name in command else None


def test_the_floor_works_round_the_clock(tmp_path):
    command, _ = dev.simulator_args(args(), settings(tmp_path), NOW)
    assert option(command, "--roster") == "follow-the-sun"


def test_the_month_so_far_is_replayed_on_a_timeline_seeded_by_the_month(tmp_path):
    command, timeline = dev.simulator_args(args(), settings(tmp_path), NOW)
    # 03:00 UTC on the 1st: still November at UTC-12, whose 1st began at 10:00 UTC the day before in UTC+14
    assert option(command, "--start") == "2026-10-31T10:00:00Z"
    later, _ = dev.simulator_args(args(), settings(tmp_path), NOW.replace(hour=13))
    assert option(later, "--start") == "2026-11-30T10:00:00Z"
    again, _ = dev.simulator_args(args(), settings(tmp_path), NOW.replace(hour=9))
    assert option(again, "--seed") == option(command, "--seed")
    assert option(later, "--seed") != option(command, "--seed")  # December's timeline
    january, _ = dev.simulator_args(args(), settings(tmp_path), datetime(2027, 1, 5, tzinfo=UTC))
    assert option(january, "--seed") != option(command, "--seed")
    assert "--skip-before" not in command


def test_a_second_run_resumes_where_the_first_stopped(tmp_path):
    _, timeline = dev.simulator_args(args(), settings(tmp_path), NOW)
    dev._save_timeline(settings(tmp_path), timeline)
    stopped = json.loads((tmp_path / "dev-simulation.json").read_text())["stopped_at"]
    command, _ = dev.simulator_args(args(), settings(tmp_path), NOW)
    assert option(command, "--skip-before") == stopped
    other = SimpleNamespace(data_dir=tmp_path, kafka_bootstrap="127.0.0.1:9092", topic_prefix="other.")
    command, _ = dev.simulator_args(args(), other, NOW)
    assert "--skip-before" not in command  # other topics: replay again


def test_a_long_month_at_a_high_rate_replays_a_bounded_number_of_leads(tmp_path):
    late = datetime(2026, 12, 28, tzinfo=UTC)
    command, _ = dev.simulator_args(args(rate="60"), settings(tmp_path), late)
    assert option(command, "--start") == "2026-11-30T10:00:00Z"  # the same timeline as any run this month
    skipped = datetime.fromisoformat(option(command, "--skip-before"))
    assert (late - skipped).total_seconds() / 60 * 60 <= dev.BACKFILL_MAX_LEADS + 1
    assert "--skip-before" not in dev.simulator_args(args(), settings(tmp_path), late)[0]  # 1/min: all of it


def test_no_replay_unless_asked_nor_on_a_compressed_timeline(tmp_path):
    for overrides in ({"backfill": False}, {"speed": "20"}):
        command, timeline = dev.simulator_args(args(**overrides), settings(tmp_path), NOW)
        assert "--start" not in command and timeline is None
        assert option(command, "--roster") == "follow-the-sun"
