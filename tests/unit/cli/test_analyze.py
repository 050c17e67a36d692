"""``python -m stream analyze`` as a user runs it: a subprocess over a history file."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import orjson
import pytest

ROOT = Path(__file__).resolve().parents[3]
END = datetime(2026, 6, 1, tzinfo=timezone.utc)
REQUIRED = {"segment", "leads", "opportunities", "value_per_lead", "cost_per_lead", "profitable"}


def analyze(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if k != "SLA_POLICY_FILE"} | (env or {})
    return subprocess.run(
        [sys.executable, "-m", "stream", "analyze", *args],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def write_history(path: Path, seed: int = 5) -> None:
    """Two segments: web|51-200|vp converts 25% at ~2000, paid|1-10|student never."""
    rng = random.Random(seed)
    lines = []
    for source, size, persona, conversion in (("web", 100, "vp", 0.25), ("paid", 3, "student", 0.0)):
        for i in range(200):
            lead = f"{source}-{i}"
            created = END - timedelta(days=rng.uniform(35, 120))
            at = created.strftime("%Y-%m-%dT%H:%M:%SZ")
            lines.append({"topic": "lead-created", "value": {"event_id": f"{lead}-c", "lead_id": lead,
                          "occurred_at": at, "source": source, "company_size": size, "persona": persona}})
            if rng.random() < conversion:
                lines.append({"topic": "opportunity-created", "value": {"event_id": f"{lead}-o", "lead_id": lead,
                              "occurred_at": at, "amount": rng.uniform(1000, 3000)}})
    lines.append({"topic": "lead-assigned", "value": {"event_id": "last", "lead_id": "web-0",
                  "occurred_at": END.strftime("%Y-%m-%dT%H:%M:%SZ"), "rep_id": "r1"}})
    body = [orjson.dumps(line) for line in lines]
    body[3:3] = [b"{broken", b'{"topic": "nope", "value": {}}']
    body.append(body[0])  # a duplicate
    path.write_bytes(b"\n".join(body) + b"\n")


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("analyze")
    history, policy = folder / "history.jsonl", folder / "policy.toml"
    write_history(history)
    policy.write_text('[scoring]\ncost_per_lead = 40\nsource_costs = { paid = 90 }\n', encoding="utf-8")
    return history, policy


def test_it_writes_the_segments_file_and_prints_a_table(files, tmp_path):
    history, policy = files
    out = tmp_path / "segments.json"
    result = analyze(str(history), "--policy", str(policy), "--output", str(out))
    assert result.returncode == 0, result.stderr
    assert "skipped 2 invalid lines" in result.stderr
    assert "ignored 1 duplicate event" in result.stderr
    assert "web|51-200|vp" in result.stdout and "paid|1-10|student" in result.stdout
    rows = orjson.loads(out.read_bytes())
    assert [row["segment"] for row in rows] == ["paid|1-10|student", "web|51-200|vp"]
    assert all(REQUIRED <= set(row) for row in rows)
    paid, web = rows
    assert (paid["leads"], paid["opportunities"], paid["cost_per_lead"], paid["profitable"]) == (200, 0, 90.0, False)
    assert web["leads"] == 200 and web["profitable"] is True and web["value_per_lead"] > 300


def test_the_same_history_gives_the_same_bytes(files, tmp_path):
    history, policy = files
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    for out in (first, second):
        assert analyze(str(history), "--policy", str(policy), "--output", str(out)).returncode == 0
    assert first.read_bytes() == second.read_bytes()


def test_young_leads_leave_every_segment_undecided(files, tmp_path):
    history, _ = files
    out = tmp_path / "young.json"
    result = analyze(str(history), "--min-age-days", "365", "--output", str(out))
    assert result.returncode == 0, result.stderr
    assert all(row["profitable"] is None and row["mature_leads"] == 0 for row in orjson.loads(out.read_bytes()))


def test_the_policy_comes_from_sla_policy_file(files, tmp_path):
    history, _ = files
    policy = tmp_path / "segment-by-source.toml"
    policy.write_text('[scoring]\nsegment_by = ["source"]\n', encoding="utf-8")
    out = tmp_path / "by-source.json"
    result = analyze(str(history), "--output", str(out), env={"SLA_POLICY_FILE": str(policy)})
    assert result.returncode == 0, result.stderr
    assert [row["segment"] for row in orjson.loads(out.read_bytes())] == ["paid", "web"]


def test_an_invalid_policy_exits_2_naming_the_key(files, tmp_path):
    history, _ = files
    policy = tmp_path / "bad.toml"
    policy.write_text("[scoring]\nsmoothing_leads = -1\n", encoding="utf-8")
    result = analyze(str(history), "--policy", str(policy))
    assert result.returncode == 2
    assert "scoring.smoothing_leads" in result.stderr


def test_a_missing_history_exits_2(tmp_path):
    result = analyze(str(tmp_path / "nope.jsonl"))
    assert result.returncode == 2 and "nope.jsonl" in result.stderr


def test_it_never_imports_faust_or_kafka(files):
    history, policy = files
    code = (
        "import sys\n"
        "from stream.cli.main import main\n"
        f"rc = main(['analyze', {str(history)!r}, '--policy', {str(policy)!r}])\n"
        "assert rc == 0, rc\n"
        "assert not {'faust', 'aiokafka'} & set(sys.modules), 'imported Kafka clients'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_the_simulators_roster_lines_are_not_invalid(tmp_path):
    """`simulate --history-out` starts with `reps` records: analyze accepts them
    as backtest does (a broken one is still reported)."""
    history = tmp_path / "simulated.jsonl"
    result = subprocess.run(
        [sys.executable, "-m", "stream", "simulate", "--history-out", str(history), "--days", "1", "--seed", "4",
         "--start", "2026-03-02T00:00:00Z"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert b'"topic":"reps"' in history.read_bytes()
    result = analyze(str(history))
    assert result.returncode == 0, result.stderr
    assert "invalid" not in result.stderr and "unknown topic" not in result.stderr
    with history.open("ab") as out:
        out.write(b'{"topic": "reps", "value": {"timezone": "UTC"}}\n')
    result = analyze(str(history))
    assert "skipped 1 invalid line" in result.stderr and "reps: rep_id" in result.stderr


def test_a_file_or_pipe_gets_every_column_in_full(tmp_path):
    """Not a terminal: the table is as wide as it needs, so no header or
    verdict is cut short ("workab…", "undeci…"), however long the segments."""
    policy = tmp_path / "wide.toml"
    policy.write_text('[scoring]\nsegment_by = ["source", "company_size_band", "persona", "industry", "country"]\n')
    history = tmp_path / "wide.jsonl"
    lines = []
    for i in range(3):
        lines.append({"topic": "lead-created", "value": {
            "event_id": f"c{i}", "lead_id": f"L{i}", "occurred_at": "2026-03-02T10:00:00Z",
            "source": "partner-referral-programme-emea", "company_size": 5000, "persona": "vice-president-of-sales",
            "industry": "industrial-manufacturing-and-logistics", "country": "DE"}})
    history.write_bytes(b"\n".join(orjson.dumps(line) for line in lines) + b"\n")
    result = analyze(str(history), "--policy", str(policy), env={"COLUMNS": "80"})
    assert result.returncode == 0, result.stderr
    assert "…" not in result.stdout
    for word in ("workable", "profitable", "undecided", "value/lead",
                 "partner-referral-programme-emea|1001+|vice-president-of-sales|industrial-manufacturing-and-logistics|DE"):
        assert word in result.stdout, word


def test_a_large_file_is_split_into_partitions_with_the_same_result(files, tmp_path):
    history, policy = files
    whole, split = tmp_path / "whole.json", tmp_path / "split.json"
    assert analyze(str(history), "--policy", str(policy), "--output", str(whole)).returncode == 0
    from stream.policy import load_policy
    from stream.service.closed_loop import analyze_file, encode_reports

    split.write_bytes(encode_reports(analyze_file(history, load_policy(policy), partition_bytes=4096)))
    assert whole.read_bytes() == split.read_bytes()
