"""``python -m stream backtest`` as a user runs it: a subprocess over a history file."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import orjson
import pytest

ROOT = Path(__file__).resolve().parents[3]
T0 = datetime(2026, 11, 20, 14, 0, tzinfo=timezone.utc)
POLICY = """
[response]
deadline_seconds = 300
business_hours = false
allowed_lateness_seconds = 0

[scoring]
workable_threshold = 0

[attempts]
required = 1

[marketing]
workable_leads_per_rep_per_month = 20

[[reps]]
rep_id = "r1"
timezone = "Europe/Berlin"
monthly_workable_target = 10

[[reps]]
rep_id = "r-idle"
"""


def backtest(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if k != "SLA_POLICY_FILE"} | (env or {})
    return subprocess.run(
        [sys.executable, "-m", "stream", "backtest", *args],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def ts(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def line(topic: str, **value) -> bytes:
    return orjson.dumps({"topic": topic, "value": value})


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("backtest")
    history, policy = folder / "history.jsonl", folder / "policy.toml"
    lines = [
        # called at 400 s on a 300 s deadline: warning + breach
        line("call-attempt", event_id="a1", lead_id="L1", occurred_at=ts(400), rep_id="r1", outcome="connected"),
        line("lead-created", event_id="c1", lead_id="L1", occurred_at=ts(0), source="web", owner_rep_id="r1"),
        # called in time
        line("lead-created", event_id="c2", lead_id="L2", occurred_at=ts(10), source="web", owner_rep_id="r1"),
        line("call-attempt", event_id="a2", lead_id="L2", occurred_at=ts(100), rep_id="r1", outcome="no_answer"),
        # never called, unowned
        line("lead-created", event_id="c3", lead_id="L3", occurred_at=ts(20), source="ads"),
        line("opportunity-created", event_id="o1", lead_id="L1", occurred_at=ts(3600), amount=100),
        b"{broken",
        line("lead-created", event_id="c2", lead_id="L2", occurred_at=ts(10), source="web", owner_rep_id="r1"),
    ]
    history.write_bytes(b"\n".join(lines) + b"\n")
    policy.write_text(POLICY, encoding="utf-8")
    return history, policy


def test_it_prints_the_report_and_writes_json_and_breaches(files, tmp_path):
    history, policy = files
    out, breaches = tmp_path / "report.json", tmp_path / "breaches.jsonl"
    result = backtest(str(history), "--policy", str(policy), "--json", str(out), "--breaches", str(breaches))
    assert result.returncode == 0, result.stderr
    assert "skipped 1 invalid line" in result.stderr and "ignored 1 duplicate event" in result.stderr
    for text in ("window 7d", "window 30d", "window mtd", "window all", "r1", "r-idle", "unassigned", "total"):
        assert text in result.stdout

    report = orjson.loads(out.read_bytes())
    assert report["as_of"] == ts(3600)
    assert report["history"]["events"] == 7 and report["history"]["duplicates"] == 1
    assert report["history"]["invalid_lines"] == 1
    assert report["policy"]["response"]["deadline_seconds"] == 300
    rows = {row["rep"]: row for row in report["windows"]["7d"]["reps"]}
    assert set(rows) == {"r1", "r-idle", "unassigned"}
    r1 = rows["r1"]
    assert (r1["workable_leads"], r1["clocks_within_sla"], r1["clocks_missed"]) == (2, 1, 1)
    assert r1["first_response_within_sla_ratio"] == 0.5
    assert (r1["connect_rate"], r1["pipeline_conversion_rate"]) == (0.5, 0.5)
    assert r1["breaches"] == {"first_response": {"breach": 1, "warning": 1}}
    assert rows["unassigned"]["breaches"] == {"first_response": {"breach": 1, "escalation": 1, "warning": 1}}
    assert rows["r-idle"]["workable_leads"] == 0
    marketing = {m["rep"]: m for m in report["marketing"]["reps"]}
    targets = {rep: m["target"] for rep, m in marketing.items()}
    assert targets == {"r1": 10, "r-idle": 20, "unassigned": None}

    emitted = [orjson.loads(x) for x in breaches.read_bytes().splitlines()]
    assert [(b["lead_id"], b["stage"]) for b in emitted if b["breach_type"] == "first_response"] == [
        ("L1", "warning"), ("L3", "warning"), ("L1", "breach"), ("L3", "breach"), ("L3", "escalation")
    ]


def test_two_runs_give_the_same_bytes(files, tmp_path):
    history, policy = files
    runs = []
    for n in (1, 2):
        out, breaches = tmp_path / f"r{n}.json", tmp_path / f"b{n}.jsonl"
        # the policy from the environment this time, and a different terminal width
        env = {"SLA_POLICY_FILE": str(policy), "COLUMNS": str(60 * n)}
        result = backtest(str(history), "--json", str(out), "--breaches", str(breaches), env=env)
        assert result.returncode == 0, result.stderr
        runs.append((result.stdout, out.read_bytes(), breaches.read_bytes()))
    assert runs[0] == runs[1]


def test_as_of_moves_the_report_and_until_ends_the_replay(files, tmp_path):
    _, policy = files
    history = tmp_path / "one.jsonl"
    history.write_bytes(line("lead-created", event_id="c3", lead_id="L3", occurred_at=ts(20), source="ads") + b"\n")
    out = tmp_path / "early.json"
    result = backtest(
        str(history), "--policy", str(policy), "--json", str(out), "--as-of", ts(290), "--until", ts(600)
    )
    assert result.returncode == 0, result.stderr
    report = orjson.loads(out.read_bytes())
    assert (report["as_of"], report["history"]["until"]) == (ts(290), ts(600))
    # as of 290 s only the warning (due 260 s) is due; the breach falls due at 320 s
    assert report["windows"]["all"]["total"]["breaches"] == {"first_response": {"warning": 1}}
    assert report["windows"]["all"]["total"]["clocks_pending"] == 1
    # the replay ran to 600 s: the escalation (due 920 s) never fired
    assert report["history"]["breach_events_emitted"] == {"first_response": {"warning": 1, "breach": 1}}


def test_a_bad_policy_or_timestamp_exits_2(files, tmp_path):
    history, _ = files
    bad = tmp_path / "bad.toml"
    bad.write_text("[response]\ndeadline_seconds = -1\n", encoding="utf-8")
    result = backtest(str(history), "--policy", str(bad))
    assert result.returncode == 2 and "response.deadline_seconds" in result.stderr
    result = backtest(str(history), "--as-of", "yesterday")
    assert result.returncode == 2 and "--as-of" in result.stderr
    result = backtest(str(tmp_path / "missing.jsonl"))
    assert result.returncode == 2


def test_it_imports_neither_faust_nor_kafka(files):
    history, policy = files
    code = (
        "import sys, contextlib, io, argparse\n"
        "from stream.cli import backtest\n"
        "p = argparse.ArgumentParser(); backtest.register(p)\n"
        f"args = p.parse_args([{str(history)!r}, '--policy', {str(policy)!r}])\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
        "    assert backtest.run(args) == 0\n"
        "heavy = ('faust', 'aiokafka', 'mode', 'prometheus_client')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_output_does_not_depend_on_the_number_of_processes(files, tmp_path):
    history, policy = files
    runs = []
    for jobs in ("1", "2", "3"):
        out, breaches = tmp_path / f"j{jobs}.json", tmp_path / f"j{jobs}.jsonl"
        result = backtest(str(history), "--policy", str(policy), "--json", str(out), "--breaches", str(breaches),
                          "--jobs", jobs)
        assert result.returncode == 0, result.stderr
        runs.append((result.stdout, out.read_bytes(), breaches.read_bytes()))
    assert runs[0] == runs[1] == runs[2]
    assert backtest(str(history), "--jobs", "0").returncode == 2


def test_the_simulators_history_is_read_whole(tmp_path):
    """A simulated history (roster first, some lines late) is backtested with
    no invalid line, and its roster's targets apply."""
    history = tmp_path / "simulated.jsonl"
    result = subprocess.run(
        [sys.executable, "-m", "stream", "simulate", "--history-out", str(history), "--days", "1", "--seed", "9",
         "--reps", "3", "--start", "2026-03-02T00:00:00Z"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    out = tmp_path / "report.json"
    result = backtest(str(history), "--json", str(out))
    assert result.returncode == 0, result.stderr
    assert "invalid" not in result.stderr
    report = orjson.loads(out.read_bytes())
    assert report["history"]["invalid_lines"] == 0 and report["history"]["events"] > 100
    assert {m["rep"] for m in report["marketing"]["reps"]} >= {"r-001", "r-002", "r-003"}
