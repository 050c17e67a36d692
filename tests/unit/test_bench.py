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


# -- idle detection, statistics -------------------------------------------------------
def _cpu_samples(rates: list[float], step: float = 0.1) -> list[tuple[float, float]]:
    """(t, cumulative CPU s) sampled every ``step`` s with the given CPU rate (cores) in each step."""
    out, cpu = [(0.0, 0.0)], 0.0
    for i, rate in enumerate(rates, start=1):
        cpu += rate * step
        out.append((round(i * step, 6), cpu))
    return out


def test_busy_moments_use_half_second_windows():
    from bench.common import busy_moments, last_busy

    # 1 s at a full core, then idle: busy until the window no longer holds 10 % of a core.
    samples = _cpu_samples([1.0] * 10 + [0.0] * 30)
    moments = busy_moments(samples)
    assert moments[0] == pytest.approx(0.5)  # the first full window
    # A window ending at t holds 1.0 - (t - 0.5) .. ; above 0.1 core over 0.5 s until t < 1.45.
    assert max(moments) == pytest.approx(1.4)
    assert last_busy(samples) == pytest.approx(1.4)
    assert last_busy(samples, since=2.0) is None
    # A short blip of 5 % of a core is not busy; 20 % is.
    assert busy_moments(_cpu_samples([0.05] * 20)) == []
    assert len(busy_moments(_cpu_samples([0.2] * 20))) > 0


def test_idle_end_waits_for_a_quiet_period():
    from bench.common import idle_end

    busy_then_idle = _cpu_samples([1.0] * 10 + [0.0] * 30)  # 4 s of samples
    # N counted at 0.8 s: the trailing work ends at the last busy moment (1.4 s),
    # known once 5 s have passed after it; with 4 s of samples it is not known yet.
    assert idle_end(busy_then_idle, since=0.8) is None
    assert idle_end(busy_then_idle, since=0.8, quiet=2.0) == pytest.approx(1.4)
    # No busy moment after ``since``: the time ends at ``since`` itself.
    assert idle_end(busy_then_idle, since=2.0, quiet=2.0) == 2.0
    assert idle_end([], since=0.0) is None
    # Busy again later: the end moves on.
    twice = _cpu_samples([1.0] * 10 + [0.0] * 20 + [1.0] * 10 + [0.0] * 60)
    assert idle_end(twice, since=0.8, quiet=2.0) == pytest.approx(4.4)


def test_summary_has_p90():
    s = summarize([float(i) for i in range(11)])
    assert s["p90"] == pytest.approx(9.0)
    assert s["min"] == 0 and s["max"] == 10


# -- results table and report ----------------------------------------------------------
CANNED = {
    "throughput.events": 100_000,
    "throughput.events_per_second": 2_000.0,
    "floor.events_per_second": 3_000.0,
    "raw.events_per_second": 60_000.0,
    "throughput.ratio_to_floor": 2_000 / 3_000,  # below 0.8: FAIL
    "throughput.ratio_to_raw": 2_000 / 60_000,
    "burst.clocks": 100_000,
    "burst.emitted": 100_000,
    "burst.p99_seconds": 4.2,
    "burst.max_seconds": 5.0,
    "breach_latency.open_clocks": 20_000.0,  # below the SPEC size
    "breach_latency.p99_ms": 120.0,
    "scrape.reps": 2_000,
    "scrape.cpu_ms": float("nan"),  # not measured
}


def _row(md: str, key: str) -> list[str]:
    for line in md.splitlines():
        if f"| `{key}` |" in line:
            return [cell.strip() for cell in line.strip().strip("|").split("|")]
    raise AssertionError(f"no row for {key}")


def test_verdicts_against_targets():
    from bench.targets import ROWS, verdict

    rows = {row.key: row for row in ROWS}
    assert verdict(rows["throughput.ratio_to_floor"], CANNED) == "FAIL"
    assert verdict(rows["burst.p99_seconds"], CANNED) == "pass"
    assert verdict(rows["burst.emitted"], CANNED) == "pass"  # equals burst.clocks
    assert verdict(rows["burst.emitted"], {**CANNED, "burst.emitted": 99_999}) == "FAIL"
    assert verdict(rows["burst.emitted"], {"burst.emitted": 5}) == "n/a"  # nothing to compare with
    assert verdict(rows["scrape.cpu_ms"], CANNED) == "n/a"
    assert verdict(rows["open_clocks.rss_mb"], CANNED) == "n/a"
    assert verdict(rows["raw.events_per_second"], CANNED) == "—"  # a baseline, no target
    assert verdict(rows["open_clocks.producer_buffer_full"], {"open_clocks.producer_buffer_full": 0}) == "pass"
    assert verdict(rows["open_clocks.producer_buffer_full"], {"open_clocks.producer_buffer_full": 3}) == "FAIL"


def test_report_renders_the_results_table_from_canned_results():
    from bench.report import render

    results = {
        **CANNED,
        "meta": {"command": "python -m bench.run", "date": "2026-01-01 00:00 UTC", "seconds": 120.0},
        "errors": {"scrape": "BenchError: the worker exited"},
        "detail": {"throughput": None, "burst": None, "breach_latency": None},  # sections run (not rendered here)
    }
    # Sections without detail to render are skipped; a detail that cannot be rendered is reported, not raised.
    md = render({**results, "detail": {}}, notes="## Notes\n\n* tried X: no gain")
    row = _row(md, "throughput.ratio_to_floor")
    assert row[2] == "0.667×" and row[3] == "≥ 0.800×" and row[4] == "FAIL"
    assert row[5].startswith("full")
    row = _row(md, "burst.emitted")
    assert row[2] == "100,000" and row[4] == "pass" and "burst.clocks" in row[3]
    row = _row(md, "breach_latency.p99_ms")
    assert row[2] == "120 ms" and row[4] == "pass" and "reduced" in row[5]
    assert _row(md, "scrape.cpu_ms")[4] == "n/a (section failed)"
    assert _row(md, "offline.backtest_rss_mb")[4] == "n/a (not run)"
    assert _row(md, "raw.events_per_second")[4] == "—"
    assert "Targets: 3 pass, 1 FAIL" in md
    assert "* **scrape**: BenchError: the worker exited" in md
    assert md.rstrip().endswith("* tried X: no gain")
    broken = render({**results, "detail": {"burst": {"clocks": 1}}})
    assert "could not render this section" in broken


def test_json_is_plain():
    import json

    from bench.report import plain

    data = plain({"a": float("nan"), "b": (1, 2.5), "c": {"d": float("inf")}, "e": {3, 1}})
    assert data == {"a": None, "b": [1, 2.5], "c": {"d": None}, "e": [1, 3]}
    json.dumps(data, allow_nan=False)


def test_offline_ratios_are_added():
    from bench.report import offline_headline

    h = offline_headline(
        {"offline.events": 10, "offline.read_seconds": 2.0, "offline.backtest_seconds": 10.0,
         "offline.analyze_seconds": 30.0, "offline.backtest_rss_mb": 100.0}
    )
    assert h["offline.backtest_ratio"] == 5.0 and h["offline.analyze_ratio"] == 15.0
    assert h["offline.backtest_rss_mb"] == 100.0


# -- section helpers ---------------------------------------------------------------------
def test_burst_lags_from_record_timestamps():
    from types import SimpleNamespace

    import orjson

    from bench.burst import breach_lags

    def record(lead: str, stamp_ms: int, stage: str = "breach", detected: str = "2026-01-05T09:00:00.050Z"):
        value = {"lead_id": lead, "breach_type": "first_response", "stage": stage,
                 "deadline": "2026-01-05T09:00:00Z", "detected_at": detected}
        return SimpleNamespace(value=orjson.dumps(value), timestamp=stamp_ms)

    due_ms = 1_767_603_600_000  # 2026-01-05T09:00:00Z
    records = [
        record("run-O1", due_ms + 200),
        record("run-O2", due_ms + 1_500),
        record("run-O2", due_ms + 1_600),  # a repeat: counts as an event, not a lead
        record("run-O3", due_ms + 300, stage="retracted"),
        record("other-O1", due_ms + 9_000),
    ]
    found = breach_lags(records, "run-O")
    assert found["lags"] == pytest.approx([0.2, 1.5, 1.6])
    assert found["detected"] == pytest.approx([0.05, 0.05, 0.05])
    assert found["leads"] == {"run-O1", "run-O2"}
    assert found["other_stages"] == 1


def test_scrape_policy_lists_every_rep(tmp_path):
    from bench.scrape import TEAMS, policy
    from stream.policy import load_policy

    path = tmp_path / "policy.toml"
    path.write_text(policy(50))
    loaded = load_policy(path)
    assert len(loaded.reps) == 50
    assert len({r.team for r in loaded.reps}) == TEAMS
    assert loaded.response.deadline_seconds == 5


def test_open_leads_stream_and_mix_calls_early():
    from bench.workload import iter_open_leads

    records = list(iter_open_leads(lambda name: name, "run", 3, at=1_700_000_000.0, tag="D"))
    assert [k for _, k, _ in records] == [b"run-D0000000", b"run-D0000001", b"run-D0000002"]
    mix = pipeline_mix(lambda name: name, "run", 8, base=1_700_000_000.0, calls_per_lead=2, first_call_after=1.0)
    calls = [orjson_loads(v) for t, _, v in mix if t == "call-attempt"]
    created = {orjson_loads(v)["lead_id"]: orjson_loads(v)["occurred_at"] for t, _, v in mix if t == "lead-created"}
    first = min(calls, key=lambda c: c["occurred_at"])
    from datetime import datetime

    gap = datetime.fromisoformat(first["occurred_at"]) - datetime.fromisoformat(created[first["lead_id"]])
    assert gap.total_seconds() == pytest.approx(1.0)


def orjson_loads(value: bytes) -> dict:
    import orjson

    return orjson.loads(value)


def test_json_has_every_required_key(tmp_path):
    import json

    from bench.report import write
    from bench.targets import REQUIRED_KEYS

    notes = tmp_path / "notes.md"
    notes.write_text("## Notes\n\n* nothing helped\n")
    md, js = tmp_path / "b.md", tmp_path / "b.json"
    write({**CANNED, "meta": {"seconds": 1.0}, "errors": {}, "detail": {}}, md, js, notes)
    data = json.loads(js.read_text())
    assert set(REQUIRED_KEYS) <= set(data)
    assert data["throughput.ratio_to_floor"] == pytest.approx(2 / 3)
    assert data["scrape.cpu_ms"] is None and data["restart.ready_seconds"] is None
    assert md.read_text().rstrip().endswith("* nothing helped")


def test_size_column_flags_any_reduced_size():
    from bench.targets import ROWS, scale_text

    row = {r.key: r for r in ROWS}["scrape.cpu_ms"]
    assert scale_text(row, {"scrape.reps": 2_000, "scrape.leads": 20_000}) == "full (2,000)"
    assert scale_text(row, {"scrape.reps": 2_000, "scrape.leads": 2_000}) == "**reduced**: 2,000 of 20,000 leads"
    assert scale_text(row, {"scrape.reps": 200, "scrape.leads": 2_000}) == "**reduced**: 200 of 2,000"
    assert scale_text(row, {}) == "—"
