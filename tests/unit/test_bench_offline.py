"""bench/offline.py: the simulated history it measures on, and how it
measures a command (no timing is asserted)."""

from __future__ import annotations

import sys

import orjson

from bench.offline import REPS, measure, read_only, write_history


def test_the_history_has_the_roster_then_exactly_the_events_asked_for(tmp_path):
    path = tmp_path / "h.jsonl"
    assert write_history(path, 500, days=2) == 500
    lines = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    assert [line["topic"] for line in lines[:REPS]] == ["reps"] * REPS
    assert len(lines) == REPS + 500 and all(line["topic"] != "reps" for line in lines[REPS:])
    assert not path.with_suffix(".partial").exists()


def test_a_command_is_measured_from_outside(tmp_path, capsys):
    figures = measure([sys.executable, "-c", "x = bytearray(50 * 2**20); print(len(x))"])
    assert figures["seconds"] > 0 and figures["rss_mb"] > 0
    path = tmp_path / "h.jsonl"
    write_history(path, 50, days=1)
    assert read_only(str(path)) == 0
    assert orjson.loads(capsys.readouterr().out) == {"events": 50, "reps": REPS, "invalid": 0}
