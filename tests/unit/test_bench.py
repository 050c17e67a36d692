"""Pure helpers of `make bench` (bench/): statistics, Prometheus parsing, the
generated workload. No timing is asserted anywhere."""

import math

import pytest

from bench.common import (
    events_total,
    fmt,
    histogram_buckets,
    histogram_delta,
    histogram_quantile,
    markdown_table,
    parse_metrics,
    percentile,
    phase_durations,
    profile_group,
    summarize,
    verdict,
)
from bench.workload import open_leads, pipeline_mix
from stream.service.ingest import Rejected, decode


def test_percentile_interpolates_between_ranks():
    assert percentile([3, 1, 2, 4], 0.5) == 2.5
    assert percentile([5], 0.99) == 5
    assert percentile(list(range(101)), 0.99) == pytest.approx(99)
    assert math.isnan(percentile([], 0.5))
    s = summarize([0.1, 0.2, 0.3])
    assert s["n"] == 3 and s["max"] == 0.3 and s["p50"] == pytest.approx(0.2)


def test_histogram_quantile_like_prometheus():
    buckets = [(0.1, 50.0), (0.25, 90.0), (0.5, 100.0), (math.inf, 100.0)]
    assert histogram_quantile(buckets, 0.5) == pytest.approx(0.1)
    assert histogram_quantile(buckets, 0.7) == pytest.approx(0.1 + 0.15 * 20 / 40)
    assert histogram_quantile([(1.0, 0.0), (math.inf, 4.0)], 0.5) == 1.0  # rank in +Inf: last finite bound
    assert math.isnan(histogram_quantile([(1.0, 0.0), (math.inf, 0.0)], 0.5))
    delta = histogram_delta({0.1: 5.0, math.inf: 9.0}, {0.1: 2.0, math.inf: 3.0})
    assert delta == [(0.1, 3.0), (math.inf, 6.0)]


def test_metrics_text_sums_events_and_reads_buckets():
    text = """# TYPE sla_events_total counter
sla_events_total{topic="lead-created",result="ok"} 7.0
sla_events_total{topic="call-attempt",result="duplicate"} 2.0
sla_events_total{topic="call-attempt",result="invalid"} 1.0
# TYPE sla_timer_lag_seconds histogram
sla_timer_lag_seconds_bucket{breach_type="first_response",le="0.1"} 3.0
sla_timer_lag_seconds_bucket{breach_type="first_response",le="+Inf"} 4.0
sla_timer_lag_seconds_count{breach_type="first_response"} 4.0
sla_timer_lag_seconds_sum{breach_type="first_response"} 0.5
"""
    samples = parse_metrics(text)
    assert events_total(samples) == 10
    assert events_total(samples, results=("ok",)) == 7
    lag = histogram_buckets(samples, "sla_timer_lag_seconds", breach_type="first_response")
    assert lag == {0.1: 3.0, math.inf: 4.0}


def test_phases_last_until_the_next_one():
    phases = [("http not up", 0.0), ("recovering tables", 1.0), ("rebalancing", 2.0), ("rebuilding", 5.0)]
    assert phase_durations(phases, 6.0) == [
        ("http not up", 0.0, 1.0),
        ("recovering tables", 1.0, 1.0),
        ("rebalancing", 2.0, 3.0),
        ("rebuilding", 5.0, 1.0),
    ]


def test_formatting_and_verdicts():
    assert fmt(1234.5) == "1,234"
    assert fmt(0.01234) == "0.0123"
    assert fmt(12) == "12"
    assert verdict(0.6, 0.5) == "pass" and verdict(0.4, 0.5) == "FAIL"
    assert verdict(0.3, 0.25, higher_is_better=False) == "FAIL"
    assert verdict(float("nan"), 1) == "n/a"
    assert markdown_table(["a", "b"], [[1, "x|y"]]).splitlines() == ["| a | b |", "|---|---|", "| 1 | x\\|y |"]


def test_profile_groups():
    assert profile_group("/v/lib/python3.11/site-packages/faust/topics.py") == "faust"
    assert profile_group("/work/main/stream/adapters/agents.py") == "stream/adapters"
    assert profile_group("/usr/lib/python3.11/asyncio/base_events.py") == "asyncio"
    assert profile_group("~", "<method 'poll' of 'select.epoll' objects>") == "C: epoll wait"
    assert profile_group("~", "<method 'send' of '_socket.socket' objects>") == "C: socket I/O"


def test_workload_events_are_valid_and_keyed_by_lead():
    records = pipeline_mix(lambda name: f"p.{name}", "run", 53, base=1_700_000_000.0)
    assert len(records) == 53
    assert {t for t, _, _ in records} == {"p.lead-created", "p.content-downloaded", "p.call-attempt"}
    for topic, key, value in records + open_leads(lambda name: name, "run", 3, at=1_700_000_000.0):
        model = decode(topic.removeprefix("p."), key, value)
        assert not isinstance(model, Rejected), model
