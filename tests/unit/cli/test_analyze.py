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
