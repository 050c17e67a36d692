"""Lead scores: fit from the segment, intent from downloads, workable by threshold and verdict."""

from __future__ import annotations

from datetime import datetime, timezone

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stream.domain.scoring import LeadScore, score_lead
from stream.domain.segments import SegmentStats, SegmentTable
from stream.policy import ScoringPolicy

POLICY = ScoringPolicy()  # threshold 50, fit 50, intent 50, demo_request 40, pricing 30, ...
GOOD = {"source": "web", "company_size": 120, "persona": "vp"}  # web|51-200|vp
BAD = {"source": "paid", "company_size": 5, "persona": "student"}  # paid|1-10|student
YOUNG = {"source": "event", "company_size": 500, "persona": "cto"}  # event|201-1000|cto


def row(segment: str, mature: int, value_per_lead: float, profitable: bool | None, profit: float | None = None):
    return {
        "segment": segment,
        "leads": mature,
        "mature_leads": mature,
        "opportunity_value": value_per_lead * mature,
        "value_per_lead": value_per_lead,
        "profit_per_lead": profit,
        "profitable": profitable,
    }


# Overall: (420 × 300 + 0 × 300 + 120 × 300) / 900 = 180 a lead.
TABLE = SegmentTable.from_json(
    orjson.dumps(
        [
            row("web|51-200|vp", 300, 420.0, True, 370.0),
            row("paid|1-10|student", 300, 0.0, False, -84.0),
            row("event|201-1000|cto", 0, 0.0, None),
            row("referral|11-50|vp", 300, 120.0, None, 1.0),
        ]
    )
)


def test_fit_compares_the_segment_value_with_the_overall_value():
    result = score_lead(GOOD, [], POLICY, TABLE)
    assert result.segment == "web|51-200|vp"
    assert result.reasons[0] == "segment web|51-200|vp: value per lead 420.0 vs overall 180.0 (fit 35.0/50)"
    assert result.score == 35.0 and not result.workable


def test_demo_request_and_pricing_weigh_most():
    demo = score_lead(GOOD, ["demo_request"], POLICY, TABLE)
    assert "downloaded demo_request (+40.0 intent)" in demo.reasons
    assert demo.score == 75.0 and demo.workable
    assert score_lead(GOOD, ["pricing"], POLICY, TABLE).score == 65.0
    assert score_lead(GOOD, ["blog"], POLICY, TABLE).score == 40.0
    assert score_lead(GOOD, ["podcast"], POLICY, TABLE).score == 40.0  # default_content_weight 5


def test_intent_is_capped_at_the_intent_weight_and_repeats_add_nothing():
    result = score_lead(GOOD, ["demo_request", "demo_request", "pricing", "webinar"], POLICY, TABLE)
    assert result.score == 85.0
    assert result.reasons[1:3] == (
        "downloaded demo_request (+40.0 intent)",
        "downloaded pricing (+10.0 intent, intent capped at 50)",
    )


def test_a_lead_becomes_workable_on_a_download():
    assert not score_lead(YOUNG, ["blog"], POLICY, TABLE).workable
    assert score_lead(YOUNG, ["blog", "demo_request"], POLICY, TABLE).workable


def test_a_segment_without_enough_mature_leads_uses_the_prior():
    result = score_lead(YOUNG, [], POLICY, TABLE)
    assert result.score == 25.0
    assert result.reasons[0] == (
        "segment event|201-1000|cto: 0 mature leads (< 30), overall value per lead 180.0 applies (fit 25.0/50)"
    )


def test_an_unknown_segment_and_no_table_are_neutral():
    unknown = score_lead({"source": "tv"}, [], POLICY, TABLE)
    assert unknown.segment == "tv|unknown|unknown" and unknown.score == 25.0
    assert "not in the segment table" in unknown.reasons[0]
    none = score_lead(GOOD, ["pricing"], POLICY, None)
    assert none.score == 55.0 and none.workable
    assert "no segment table loaded" in none.reasons[0]


def test_an_undecided_segment_with_enough_leads_is_scored_by_its_value():
    result = score_lead({"source": "referral", "company_size": 30, "persona": "vp"}, [], POLICY, TABLE)
    assert result.score == pytest.approx(50 * (120 / 180) / (1 + 120 / 180), abs=0.05)


def test_an_unprofitable_segment_is_never_workable_and_says_so():
    result = score_lead(BAD, ["demo_request", "pricing"], ScoringPolicy(workable_threshold=10), TABLE)
    assert result.score == 50.0 and not result.workable
    assert result.reasons[-1] == (
        "segment paid|1-10|student is unprofitable (profit per lead -84.0): not workable whatever the score"
    )


def test_threshold_zero_makes_every_lead_workable_even_in_an_unprofitable_segment():
    policy = ScoringPolicy(workable_threshold=0)
    for attrs in (GOOD, BAD, YOUNG, {"source": "tv"}):
        for table in (TABLE, None):
            assert score_lead(attrs, [], policy, table).workable
    assert "threshold 0 makes every lead workable" in score_lead(BAD, [], policy, TABLE).reasons[-1]


def test_the_threshold_is_inclusive():
    policy = ScoringPolicy(workable_threshold=75)
    result = score_lead(GOOD, ["demo_request"], policy, TABLE)
    assert result.workable and result.reasons[-1] == "score 75.0 >= threshold 75: workable"


def test_live_stats_replace_the_file_row():
    stats = TABLE.stats("web|51-200|vp")
    stats.verdict = False  # the live evidence turned against the segment
    result = score_lead(GOOD, ["demo_request"], POLICY, TABLE, live=stats)
    assert not result.workable and "is unprofitable" in result.reasons[-1]
    # the live view smooths the row's raw evidence: (300 × 420 + 20 × 180) / (300 + 20)
    assert "value per lead 405.0" in result.reasons[0]


def test_live_stats_without_a_table_are_neutral():
    stats = SegmentStats("web|51-200|vp", since=datetime(2026, 1, 1, tzinfo=timezone.utc))
    assert score_lead(GOOD, [], POLICY, None, live=stats).score == 25.0


def test_scores_are_deterministic():
    a = score_lead(GOOD, ["ebook", "pricing"], POLICY, TABLE)
    b = score_lead(dict(GOOD), ("ebook", "pricing"), POLICY, TABLE)
    assert a == b and isinstance(a, LeadScore)


@settings(max_examples=200, deadline=None)
@given(
    attrs=st.fixed_dictionaries(
        {"source": st.sampled_from(["web", "paid", "event", "tv"])},
        optional={"company_size": st.integers(0, 10**6), "persona": st.sampled_from(["vp", "cto", "student"])},
    ),
    types=st.lists(st.sampled_from(["demo_request", "pricing", "webinar", "ebook", "blog", "x"]), max_size=8),
    fit_weight=st.floats(0, 100),
    intent_weight=st.floats(0, 100),
    threshold=st.floats(0, 100),
)
def test_scores_stay_between_0_and_100(attrs, types, fit_weight, intent_weight, threshold):
    policy = ScoringPolicy(fit_weight=fit_weight, intent_weight=intent_weight, workable_threshold=threshold)
    result = score_lead(attrs, types, policy, TABLE)
    assert 0 <= result.score <= 100
    assert result.score == round(result.score, 1)
    if threshold == 0:
        assert result.workable
    elif result.workable:
        assert result.score >= threshold
