"""The closed-loop analysis recovers planted segment economics from a generated history."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import orjson
import pytest

from schemas.events import INPUT_MODELS
from stream.domain.segments import SegmentTable
from stream.policy import ScoringPolicy
from stream.service.closed_loop import analyze, encode_reports, overall
from stream.service.history import iter_history, read_history

END = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
POLICY = ScoringPolicy(cost_per_lead=50, source_costs={"paid": 80}, cost_per_attempt=2)
GOOD = "web|51-200|vp"
BAD = "paid|1-10|student"
YOUNG = "event|201-1000|cto"
SMALL = "referral|11-50|vp"


@dataclass(frozen=True)
class Plan:
    source: str
    company_size: int
    persona: str
    leads: int
    conversion: float
    deal: float
    age_days: tuple[float, float]


PLANS = (
    Plan("web", 120, "vp", 400, 0.20, 2000, (40, 140)),  # worth ~400 a lead, costs ~54
    Plan("paid", 5, "student", 400, 0.01, 500, (40, 140)),  # worth ~5 a lead, costs ~84
    Plan("event", 500, "cto", 200, 0.30, 3000, (0, 20)),  # promising, but too young to tell
    Plan("referral", 30, "vp", 15, 0.0, 0, (40, 140)),  # too few to tell
)


def ts(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def generate(plans=PLANS, seed: int = 7) -> list[dict]:
    """History lines with known segment rates; the latest event is at END."""
    rng = random.Random(seed)
    lines: list[dict] = []
    n = 0

    def emit(topic: str, lead_id: str, at: datetime, **fields) -> None:
        nonlocal n
        n += 1
        lines.append({"topic": topic, "value": {"event_id": f"e{n}", "lead_id": lead_id, "occurred_at": ts(at), **fields}})

    for plan in plans:
        for i in range(plan.leads):
            lead_id = f"{plan.source}-{plan.persona}-{i}"
            created = END - timedelta(days=rng.uniform(*plan.age_days))
            emit("lead-created", lead_id, created, source=plan.source, company_size=plan.company_size, persona=plan.persona)
            if rng.random() < 0.5:
                emit("content-downloaded", lead_id, created + timedelta(minutes=1), content_id="c1",
                     content_type=rng.choice(["demo_request", "pricing", "ebook", "blog"]))
            for a in range(2):
                outcome = "connected" if a == 1 and rng.random() < 0.5 else "no_answer"
                emit("call-attempt", lead_id, created + timedelta(minutes=3 + a), rep_id="r1", outcome=outcome)
            age = (END - created).total_seconds()
            if rng.random() < plan.conversion:
                emit("opportunity-created", lead_id, created + timedelta(seconds=rng.uniform(0.1, 0.5) * age),
                     amount=round(plan.deal * rng.uniform(0.5, 1.5), 2))
    emit("lead-assigned", "web-vp-0", END, rep_id="r2")
    return lines


def events(lines: list[dict]):
    return [e for e in iter_history(orjson.dumps(line) for line in lines) if e is not None]


@pytest.fixture(scope="module")
def lines() -> list[dict]:
    return generate()


@pytest.fixture(scope="module")
def reports(lines):
    return {r.segment: r for r in analyze(events(lines), POLICY, 30)}


def test_segments_are_the_segment_by_values_joined(reports):
    assert sorted(reports) == sorted([GOOD, BAD, YOUNG, SMALL])


def test_the_analysis_recovers_the_planted_rates(reports):
    good, bad = reports[GOOD], reports[BAD]
    assert good.leads == good.mature_leads == 400
    assert good.opportunities / good.mature_leads == pytest.approx(0.20, abs=0.05)
    assert good.raw_value_per_lead == pytest.approx(400, rel=0.25)
    assert good.cost_per_lead == pytest.approx(50 + 2 * 2)
    assert bad.cost_per_lead == pytest.approx(80 + 2 * 2)
    assert bad.contacted == bad.mature_leads and good.attempts == 2 * good.mature_leads
    assert 0.35 < good.connected / good.mature_leads < 0.65


def test_planted_profitable_and_unprofitable_segments_are_classified(reports):
    assert reports[GOOD].profitable is True
    assert reports[GOOD].profit_per_lead_low > 0
    assert reports[BAD].profitable is False
    assert reports[BAD].profit_per_lead_high < 0


def test_a_segment_with_hundreds_of_mature_leads_is_judged_by_its_own_data(reports):
    good = reports[GOOD]
    assert good.value_per_lead == pytest.approx(good.raw_value_per_lead, rel=0.1)


def test_young_leads_are_left_out_and_their_segment_stays_undecided(reports):
    young = reports[YOUNG]
    assert young.leads == 200 and young.mature_leads == 0
    assert young.profitable is None
    assert young.profit_per_lead is None
    assert young.cost_per_lead == pytest.approx(54)  # measured on the young leads
    assert "0 mature leads < 30" in young.verdict


def test_a_small_segment_is_undecided_and_smoothed_towards_the_overall_value(reports):
    small = reports[SMALL]
    prior = overall(reports.values())
    assert small.mature_leads == 15 and small.opportunities == 0
    assert small.profitable is None
    # (0 + 20 pseudo-leads × overall conversion × typical deal size) / (15 + 20)
    assert prior.typical_deal_size == small.typical_deal_size
    assert small.value_per_lead == pytest.approx(20 * prior.conversion * prior.deal_size / 35, abs=0.01)


def test_young_leads_count_once_they_are_old_enough(lines):
    reports = {r.segment: r for r in analyze(events(lines), POLICY, min_age_days=0)}
    assert reports[YOUNG].mature_leads == 200
    assert reports[YOUNG].opportunities > 0


def test_unprofitable_segments_produce_no_workable_leads(reports):
    assert reports[BAD].workable == 0
    assert reports[GOOD].workable > 0


def test_duplicates_change_nothing(lines):
    once = encode_reports(analyze(events(lines), POLICY, 30))
    twice = encode_reports(analyze(events(lines + lines[:300]), POLICY, 30))
    assert once == twice


def test_the_output_is_the_same_bytes_whatever_the_line_order(lines):
    first = encode_reports(analyze(events(lines), POLICY, 30))
    again = encode_reports(analyze(events(lines), POLICY, 30))
    shuffled = list(lines)
    random.Random(1).shuffle(shuffled)
    assert first == again == encode_reports(analyze(events(shuffled), POLICY, 30))


def test_the_output_is_a_sorted_list_the_worker_can_load(reports):
    data = encode_reports(reports.values())
    rows = orjson.loads(data)
    assert [row["segment"] for row in rows] == sorted(reports)
    for row in rows:
        assert {"segment", "leads", "opportunities", "value_per_lead", "cost_per_lead", "profitable"} <= set(row)
    assert data.startswith(b"[\n  {\n")
    table = SegmentTable.from_json(data)
    assert table.get(GOOD).profitable is True and table.get(BAD).profitable is False
    assert table.prior == overall(reports.values())
    assert table.as_of == END


def test_seeded_live_stats_reproduce_the_analysis(reports):
    table = SegmentTable.from_json(encode_reports(reports.values()))
    stats = table.stats(GOOD)
    est = stats.estimate(table.prior, POLICY)
    assert est.value_per_lead == pytest.approx(reports[GOOD].value_per_lead, abs=0.01)
    assert est.profit_low == pytest.approx(reports[GOOD].profit_per_lead_low, abs=0.01)
    assert stats.verdict is True and stats.since == END


def test_events_of_leads_never_created_are_ignored():
    lines = generate((PLANS[0],), seed=3)
    orphan = {"topic": "opportunity-created",
              "value": {"event_id": "x1", "lead_id": "nobody", "occurred_at": ts(END), "amount": 1e9}}
    assert encode_reports(analyze(events(lines + [orphan]), POLICY, 30)) == encode_reports(
        analyze(events(lines), POLICY, 30)
    )


def test_an_empty_history_gives_no_segments():
    assert analyze([], POLICY) == []
    assert encode_reports([]) == b"[]\n"


def test_read_history_skips_and_counts_invalid_lines(tmp_path, lines):
    path = tmp_path / "history.jsonl"
    good = [orjson.dumps(line) for line in lines[:20]]
    bad = [
        b"not json",
        b"[1, 2]",
        b'{"topic": "sla-breaches", "value": {}}',
        b'{"topic": "dev.lead-created", "value": {"event_id": "a", "lead_id": "b", "occurred_at": "2026-01-01T00:00:00Z", "source": "web"}}',
        b'{"topic": "lead-created", "value": {"event_id": "a", "lead_id": "b", "occurred_at": "2026-01-01 00:00", "source": "web"}}',
        b'{"topic": "call-attempt", "value": {"event_id": "a", "lead_id": "b", "occurred_at": "2026-01-01T00:00:00Z", "rep_id": "r", "outcome": "maybe"}}',
        b"\xff\xfe",
    ]
    path.write_bytes(b"\n".join(good[:10] + bad + [b"", b"  "] + good[10:]) + b"\n")
    reasons: list[tuple[int, str]] = []
    history = read_history(path, on_invalid=lambda n, why: reasons.append((n, why)))
    assert history.invalid == len(bad)
    assert [type(e) for _, e in history.events] == [INPUT_MODELS[line["topic"]] for line in lines[:20]]
    assert [topic for topic, _ in history.events] == [line["topic"] for line in lines[:20]]
    assert reasons[0][0] == 11 and "not JSON" in reasons[0][1]
    assert "unknown topic 'dev.lead-created'" in reasons[3][1]


# -- segments with (almost) no pipeline --------------------------------------------


def pipeline_free_history() -> list[dict]:
    """The issue's planted history: besides ordinary segments, one segment with
    a few very large deals (which dominate the pooled mean value per lead),
    400 mature leads with no opportunity at all, 400 with one small one, and
    a small and a young segment with none."""
    rng = random.Random(11)
    lines: list[dict] = []
    n = 0

    def emit(topic: str, lead_id: str, at: datetime, **fields) -> None:
        nonlocal n
        n += 1
        lines.append({"topic": topic, "value": {"event_id": f"p{n}", "lead_id": lead_id, "occurred_at": ts(at), **fields}})

    def segment(source: str, persona: str, leads: int, deals: list[float], age: tuple[float, float]) -> None:
        for i in range(leads):
            lead_id = f"{source}-{persona}-{i}"
            created = END - timedelta(days=rng.uniform(*age))
            emit("lead-created", lead_id, created, source=source, company_size=30, persona=persona)
            emit("call-attempt", lead_id, created + timedelta(minutes=3), rep_id="r1", outcome="no_answer")
            if i < len(deals):
                emit("opportunity-created", lead_id, created + timedelta(days=2), amount=deals[i])

    segment("web", "vp", 400, [rng.uniform(1500, 2500) for _ in range(60)], (40, 140))  # ~300 a lead
    segment("enterprise", "cio", 60, [1_500_000, 2_000_000, 2_500_000], (40, 140))  # a few huge deals
    segment("list", "none", 400, [], (40, 140))  # no pipeline at all
    segment("fair", "none", 400, [300], (40, 140))  # one small opportunity
    segment("webinar", "none", 40, [], (40, 140))  # few leads
    segment("launch", "none", 400, [], (0, 20))  # too young
    emit("lead-assigned", "web-vp-0", END, rep_id="r2")
    return lines


@pytest.fixture(scope="module")
def pipeline_free():
    policy = ScoringPolicy(cost_per_lead=100)
    history = events(pipeline_free_history())
    return {r.segment: r for r in analyze(history, policy, 30)}, history, policy


def test_a_pooled_mean_would_have_lifted_segments_without_pipeline(pipeline_free):
    reports, _, _ = pipeline_free
    pooled = overall(reports.values())
    # the huge deals make the mean value per mature lead far above what a typical lead brings...
    assert pooled.value_per_lead > 3000
    # ...while the typical (median) deal is an ordinary one
    assert 1500 <= pooled.typical_deal_size <= 2500


def test_large_segments_without_pipeline_are_unprofitable(pipeline_free):
    reports, _, _ = pipeline_free
    for key in ("list|11-50|none", "fair|11-50|none"):
        r = reports[key]
        assert r.mature_leads == 400 and r.cost_per_lead == 100
        assert r.profitable is False, (key, r.verdict)
        assert r.profit_per_lead_high < 0 and r.value_per_lead < 20
        assert "all below 0" in r.verdict
    assert reports["fair|11-50|none"].opportunities == 1


def test_small_and_young_segments_without_pipeline_stay_undecided(pipeline_free):
    reports, _, _ = pipeline_free
    small, young = reports["webinar|11-50|none"], reports["launch|11-50|none"]
    assert small.mature_leads == 40 and small.profitable is None
    assert small.profit_per_lead_low < 0 < small.profit_per_lead_high
    assert young.mature_leads == 0 and young.profitable is None


def test_segments_with_pipeline_keep_their_verdicts(pipeline_free):
    reports, _, _ = pipeline_free
    assert reports["web|11-50|vp"].profitable is True
    # three huge deals in sixty leads: judged on its own deals, not the typical one
    enterprise = reports["enterprise|11-50|cio"]
    assert enterprise.deal_size > 1_000_000 and enterprise.profitable is True


def test_a_file_analysis_gives_the_same_bytes_in_partitions(tmp_path):
    lines = generate()
    shuffled = list(lines)
    random.Random(5).shuffle(shuffled)
    path = tmp_path / "history.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(line) for line in shuffled) + b"\n{broken\n")
    from stream.service.closed_loop import AnalysisCounts, analyze_file

    counts = AnalysisCounts()
    in_files = analyze_file(path, POLICY, 30, counts=counts, partition_bytes=20_000, spill_dir=tmp_path)
    assert encode_reports(in_files) == encode_reports(analyze(events(lines), POLICY, 30))
    assert counts.invalid == 1 and counts.duplicates == 0
    assert [p.name for p in tmp_path.iterdir()] == ["history.jsonl"]
