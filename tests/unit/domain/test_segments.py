"""Segments: keys, smoothing, the verdict rule, live SegmentStats and the segments file."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import orjson
import pytest

from schemas.events import LeadCreated
from stream.domain.segments import (
    Estimate,
    LeadOutcome,
    Prior,
    SegmentCounts,
    SegmentStats,
    SegmentTable,
    SegmentTableError,
    acquisition_cost,
    company_size_band,
    decide,
    estimate,
    segment_key,
)
from stream.policy import ScoringPolicy

POLICY = ScoringPolicy(cost_per_lead=50, cost_per_attempt=0)
SINCE = datetime(2026, 3, 1, tzinfo=timezone.utc)
# 10% of leads convert at 2000: 200 a lead, E[value²] = 0.1 × 2000²
PRIOR = Prior(mature_leads=1000, value_per_lead=200.0, value_sq_per_lead=400_000.0, opportunities=100)


@pytest.mark.parametrize(
    ("size", "band"),
    [(None, "unknown"), (0, "1-10"), (1, "1-10"), (10, "1-10"), (11, "11-50"), (50, "11-50"),
     (51, "51-200"), (200, "51-200"), (201, "201-1000"), (1000, "201-1000"), (1001, "1001+"), (10**6, "1001+")],
)
def test_company_size_bands(size, band):
    assert company_size_band(size) == band


def test_a_segment_is_the_segment_by_values_joined_in_order():
    attrs = {"source": "web", "company_size": 120, "persona": "vp", "country": "DE"}
    assert segment_key(attrs, ["source", "company_size_band", "persona"]) == "web|51-200|vp"
    assert segment_key(attrs, ["country", "source"]) == "DE|web"


def test_missing_attributes_show_as_unknown():
    assert segment_key({"source": "web"}, ["source", "company_size_band", "persona", "industry"]) == (
        "web|unknown|unknown|unknown"
    )


def test_a_lead_created_model_works_as_attributes_and_a_bar_inside_a_value_is_replaced():
    lead = LeadCreated(event_id="e", lead_id="l", occurred_at="2026-01-01T00:00:00Z", source="a|b", company_size=5)
    assert segment_key(lead, ["source", "company_size_band", "persona"]) == "a/b|1-10|unknown"


def test_acquisition_cost_prefers_the_source_cost():
    policy = ScoringPolicy(cost_per_lead=10, source_costs={"paid": 80})
    assert acquisition_cost("paid", policy) == 80
    assert acquisition_cost("web", policy) == 10
    assert acquisition_cost(None, policy) == 10


def counts(leads: int, opportunities: int, deal: float, cost: float = 50.0) -> SegmentCounts:
    return SegmentCounts(
        leads=leads,
        opportunities=opportunities,
        value=opportunities * deal,
        value_sq=opportunities * deal * deal,
        acquisition_cost=leads * cost,
    )


def test_a_small_segment_is_smoothed_towards_the_overall_value_per_lead():
    est = estimate(counts(10, 0, 0), PRIOR, POLICY)
    assert est.raw_value_per_lead == 0
    assert est.value_per_lead == pytest.approx(20 * 200 / 30)


def test_a_segment_with_hundreds_of_mature_leads_is_judged_by_its_own_data():
    est = estimate(counts(800, 240, 2000), PRIOR, POLICY)  # 600 a lead
    assert est.value_per_lead == pytest.approx(600, rel=0.02)


def test_without_a_prior_there_is_no_smoothing():
    est = estimate(counts(40, 4, 1000), Prior(), POLICY)
    assert est.value_per_lead == pytest.approx(100)


def test_a_segment_without_mature_leads_has_the_prior_value_and_no_profit():
    est = estimate(SegmentCounts(), PRIOR, POLICY)
    assert est.value_per_lead == 200 and est.profit_per_lead is None
    assert decide(est, POLICY) is None


def test_too_few_mature_leads_are_never_condemned():
    est = estimate(counts(29, 0, 0, cost=1000), PRIOR, POLICY)
    assert est.profit_high < 0
    assert decide(est, POLICY) is None


def test_no_opportunity_in_thirty_leads_is_not_enough_to_condemn():
    assert decide(estimate(counts(30, 0, 0), PRIOR, POLICY), POLICY) is None


def test_strong_evidence_decides_either_way():
    assert decide(estimate(counts(300, 0, 0), PRIOR, POLICY), POLICY) is False
    assert decide(estimate(counts(300, 30, 2000), PRIOR, POLICY), POLICY) is True


def test_a_verdict_stands_while_the_bounds_straddle_zero():
    straddling = Estimate(100, 50.0, 50.0, 50.0, 0.0, -10.0, 10.0)
    assert decide(straddling, POLICY) is None
    assert decide(straddling, POLICY, previous=True) is True
    assert decide(straddling, POLICY, previous=False) is False


def test_costs_count_attempts():
    policy = ScoringPolicy(cost_per_lead=50, cost_per_attempt=3)
    c = SegmentCounts(leads=10, attempts=40, acquisition_cost=500)
    assert estimate(c, PRIOR, policy).cost_per_lead == pytest.approx(62)


# -- live stats ---------------------------------------------------------------


def profitable_seed() -> SegmentStats:
    """A segment the history judged profitable: 100 mature leads, 20 deals of 2000."""
    stats = SegmentStats("web|51-200|vp", mature=counts(100, 20, 2000), since=SINCE, verdict=True)
    assert decide(stats.estimate(PRIOR, POLICY), POLICY) is True
    return stats


def add_dud_leads(stats: SegmentStats, n: int, start: datetime) -> None:
    """n new leads, each called once and never converting."""
    for i in range(n):
        created = start + timedelta(minutes=i)
        stats.lead_created(created, 50.0)
        stats.outcome_changed(created, LeadOutcome(), LeadOutcome(attempts=1), created + timedelta(minutes=5))
        stats.reassess(PRIOR, POLICY)


def test_many_new_bad_outcomes_flip_a_profitable_segment():
    stats = profitable_seed()
    add_dud_leads(stats, 2000, SINCE + timedelta(days=1))
    assert stats.verdict is True  # still young: nothing moved yet
    assert stats.reassess(PRIOR, POLICY, as_of=SINCE + timedelta(days=40)) is False
    assert stats.mature.leads == 2100


def test_a_few_new_bad_outcomes_do_not():
    stats = profitable_seed()
    add_dud_leads(stats, 40, SINCE + timedelta(days=1))
    assert stats.reassess(PRIOR, POLICY, as_of=SINCE + timedelta(days=40)) is True


def test_young_leads_do_not_count_until_they_mature():
    stats = profitable_seed()
    add_dud_leads(stats, 1000, SINCE + timedelta(days=1))  # watermark: the last outcome
    assert stats.verdict is True
    assert stats.mature.leads == 100 and stats.young_leads == 1000


def test_a_new_segment_earns_a_verdict_from_live_evidence():
    stats = SegmentStats("new", since=SINCE)
    start = SINCE + timedelta(days=1)
    for i in range(200):
        created = start + timedelta(hours=i)
        stats.lead_created(created, 50.0)
        if i % 4 == 0:
            stats.outcome_changed(created, LeadOutcome(), LeadOutcome(opportunity=True, value=2000.0), created)
    assert stats.reassess(PRIOR, POLICY) is None  # all young
    assert stats.reassess(PRIOR, POLICY, as_of=start + timedelta(days=60)) is True
    assert stats.view(PRIOR, POLICY).value_per_lead == pytest.approx(500, rel=0.1)


def test_a_second_opportunity_on_a_lead_adds_value_not_a_lead():
    stats = SegmentStats("s")
    created = SINCE
    one = LeadOutcome(opportunity=True, value=1000.0)
    two = LeadOutcome(opportunity=True, value=1500.0)
    stats.lead_created(created, 0.0)
    stats.outcome_changed(created, LeadOutcome(), one, created)
    stats.outcome_changed(created, one, two, created)
    stats.advance(created + timedelta(days=32), 30)
    assert stats.mature == SegmentCounts(leads=1, opportunities=1, value=1500.0, value_sq=1500.0**2)


def test_leads_from_the_analysed_history_are_not_counted_twice():
    stats = SegmentStats("s", since=SINCE)
    assert stats.lead_created(SINCE - timedelta(days=1), 50.0) is False
    assert stats.outcome_changed(SINCE, LeadOutcome(), LeadOutcome(attempts=1), SINCE + timedelta(days=1)) is False
    assert stats.young_leads == 0 and stats.mature == SegmentCounts()


def test_outcomes_of_matured_cohorts_go_straight_to_mature():
    stats = SegmentStats("s")
    created = SINCE
    stats.lead_created(created, 0.0)
    stats.advance(created + timedelta(days=31), 30)
    assert stats.mature.leads == 1 and not stats.cohorts
    stats.outcome_changed(created, LeadOutcome(), LeadOutcome(attempts=1), created + timedelta(days=31))
    assert stats.mature.attempts == 1 and not stats.cohorts


def test_a_cohort_day_matures_only_once_its_youngest_lead_is_old_enough():
    stats = SegmentStats("s")
    stats.lead_created(datetime(2026, 3, 1, 23, 59, tzinfo=timezone.utc), 0.0)
    stats.advance(datetime(2026, 3, 31, 12, tzinfo=timezone.utc), 30)
    assert stats.young_leads == 1
    stats.advance(datetime(2026, 4, 1, 0, 0, tzinfo=timezone.utc), 30)
    assert stats.young_leads == 0 and stats.mature.leads == 1


def test_stats_round_trip_through_json_types():
    stats = profitable_seed()
    add_dud_leads(stats, 5, SINCE + timedelta(days=1))
    stats.advance(SINCE + timedelta(days=20), 30)
    data = orjson.loads(orjson.dumps(stats.to_dict()))
    back = SegmentStats.from_dict(data)
    assert back == stats
    assert back.to_dict() == stats.to_dict()


# -- the segments file ----------------------------------------------------------


def test_a_hand_written_segments_file_is_enough():
    table = SegmentTable.from_json(
        b'[{"segment": "web|51-200|vp", "leads": 100, "value_per_lead": 300, "profitable": true},'
        b' {"segment": "paid|1-10|student", "leads": 100, "value_per_lead": 100, "profitable": false}]'
    )
    assert len(table) == 2 and list(table) == ["paid|1-10|student", "web|51-200|vp"]
    assert table.get("web|51-200|vp").profitable is True
    assert table.get("nope") is None and "nope" not in table
    assert table.prior.value_per_lead == pytest.approx(200)


def test_an_unknown_segment_gets_empty_undecided_stats():
    table = SegmentTable.from_json(b'[{"segment": "a", "leads": 1, "profitable": true, "as_of": "2026-03-01T00:00:00Z"}]')
    stats = table.stats("b")
    assert stats.mature == SegmentCounts() and stats.verdict is None and stats.since == SINCE


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"{}", "must be a JSON list"),
        (b"nope", "not valid JSON"),
        (b"[1]", "[0]: each row must be an object"),
        (b'[{"leads": 3}]', "[0].segment"),
        (b'[{"segment": "a", "profitable": "yes"}]', "[0].profitable"),
        (b'[{"segment": "a", "leads": -1}]', "[0].leads"),
        (b'[{"segment": "a", "value_per_lead": "x"}]', "[0].value_per_lead"),
        (b'[{"segment": "a"}, {"segment": "a"}]', "appears twice"),
    ],
)
def test_an_invalid_segments_file_says_where(data, message):
    with pytest.raises(SegmentTableError, match=message.replace("[", r"\[").replace("]", r"\]")):
        SegmentTable.from_json(data)


def test_load_names_the_file(tmp_path):
    with pytest.raises(SegmentTableError, match="missing.json"):
        SegmentTable.load(tmp_path / "missing.json")
    path = tmp_path / "segments.json"
    path.write_bytes(b'[{"segment": "a", "profitable": null}]')
    assert SegmentTable.load(path).get("a").profitable is None


# -- the conversion × deal size model -------------------------------------------------


def test_wilson_bounds_stay_inside_zero_and_one_and_widen_with_fewer_trials():
    from stream.domain.segments import wilson_bounds

    low, high = wilson_bounds(0.0, 400, 1.2816)
    assert low == 0.0 and 0.0 < high < 0.01
    small = wilson_bounds(0.0, 30, 1.2816)
    assert small[1] > high
    low, high = wilson_bounds(0.1, 300, 1.2816)
    assert low < 0.1 < high and high - low == pytest.approx(2 * 1.2816 * (0.1 * 0.9 / 300) ** 0.5, rel=0.05)


def test_a_large_segment_with_no_pipeline_is_unprofitable_even_if_deals_elsewhere_are_huge():
    # 1% of leads converted, at a typical deal of 2000, but a few enormous deals
    # lift the pooled mean value per lead to 3000
    prior = Prior(mature_leads=2000, value_per_lead=3000.0, value_sq_per_lead=1e12, opportunities=20,
                  typical_deal_size=2000.0)
    policy = ScoringPolicy(cost_per_lead=100)
    est = estimate(counts(400, 0, 0, cost=100), prior, policy)
    assert est.value_per_lead == pytest.approx(20 * 0.01 * 2000 / 420)
    assert est.profit_high < 0 and decide(est, policy) is False
    one_small = SegmentCounts(leads=400, opportunities=1, value=300.0, value_sq=300.0**2, acquisition_cost=40_000)
    assert decide(estimate(one_small, prior, policy), policy) is False
    # ...but forty such leads do not tell whether they beat a cost of 40 (2% at 2000 would)
    cheaper = ScoringPolicy(cost_per_lead=40)
    assert decide(estimate(counts(40, 0, 0, cost=40), prior, cheaper), cheaper) is None


def test_one_lucky_deal_does_not_make_a_segment_profitable():
    est = estimate(SegmentCounts(leads=400, opportunities=1, value=1e6, value_sq=1e12, acquisition_cost=20_000),
                   PRIOR, POLICY)
    assert est.profit_per_lead > 0 and decide(est, POLICY) is None


def test_the_segments_file_carries_the_typical_deal_size_into_the_prior():
    table = SegmentTable.from_json(
        b'[{"segment": "a", "mature_leads": 100, "opportunities": 10, "opportunity_value": 50000,'
        b' "typical_deal_size": 2000}, {"segment": "b", "mature_leads": 100, "typical_deal_size": 2000}]'
    )
    assert table.prior.typical_deal_size == 2000 and table.prior.opportunities == 10
    assert table.prior.conversion == pytest.approx(0.05) and table.prior.deal_size == 2000
    # without it, the mean deal size
    assert SegmentTable.from_json(b'[{"segment": "a", "mature_leads": 100, "opportunities": 10,'
                                  b' "opportunity_value": 50000}]').prior.deal_size == 5000
