"""``due --bootstrap`` reads the rep roster from the ``reps`` topic, as the
workers do: the topic's record wins over the policy file, field by field."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.support.kafka import ROOT, produce, unique_prefix

pytestmark = pytest.mark.integration

POLICY = """
[calendar]
timezone = "America/New_York"
working_hours = "09:00-17:00"
holidays_country = "US"

[[reps]]
rep_id = "r-file"
timezone = "America/Los_Angeles"
"""


def due(*args: str, policy) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLA_")}
    return subprocess.run(
        [sys.executable, "-m", "stream", "due", "--policy", str(policy), *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )


def test_the_reps_topic_decides_when_a_bootstrap_is_given(kafka_bootstrap, tmp_path):
    prefix = unique_prefix()
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY)
    produce(kafka_bootstrap, [
        (prefix + "reps", "r-topic", {"rep_id": "r-topic", "team": "emea", "timezone": "Europe/Berlin",
                                      "holidays_country": "DE"}),
        # the topic moves r-file to Berlin too; the file's other fields still apply
        (prefix + "reps", "r-file", {"rep_id": "r-file", "timezone": "Europe/Berlin"}),
        (prefix + "reps", "r-gone", {"rep_id": "r-gone", "timezone": "Asia/Tokyo"}),
        (prefix + "reps", "r-gone", None),  # removed again
        (prefix + "reps", "r-bad", b"not json"),
    ])
    start = "2026-11-20T15:58:00Z"  # Friday 16:58 in Berlin, 10:58 in New York
    kafka = ("--bootstrap", kafka_bootstrap, "--topic-prefix", prefix)

    result = due("--start", start, "--rep", "r-topic", *kafka, policy=policy)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "2026-11-23T09:03:00+01:00"  # Monday morning in Berlin
    assert "calendar from reps topic" in result.stdout and f"from {prefix}reps" in result.stdout
    assert result.stderr == ""

    merged = due("--start", start, "--rep", "r-file", *kafka, policy=policy)
    assert "calendar from reps topic + policy [[reps]]" in merged.stdout
    assert merged.stdout.splitlines()[-1] == "2026-11-23T09:03:00+01:00"

    # Without --bootstrap the topic is not read: r-topic is unknown, and said to be.
    offline = due("--start", start, "--rep", "r-topic", policy=policy)
    assert offline.stdout.splitlines()[-1] == "2026-11-20T11:03:00-05:00"
    assert "warning: rep 'r-topic'" in offline.stderr

    gone = due("--start", start, "--rep", "r-gone", *kafka, policy=policy)
    assert "warning: rep 'r-gone'" in gone.stderr and "2 reps read" in gone.stderr  # r-topic and r-file
