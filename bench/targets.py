"""The results table of docs/benchmarks.md: every headline key of
docs/benchmarks.json with its SPEC §9 target (if any), a verdict and the
size it was measured at. Pure: unit-tested in tests/unit/test_bench.py.

Verdicts: ``pass`` / ``FAIL`` against the target; ``n/a`` when the value was
not measured (the section was not run, or failed: the note says which);
``—`` for figures reported without a target (baselines, details).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bench.common import fmt, is_missing, markdown_table

MILLION = 1_000_000
SCRAPE_LEADS = (("scrape.leads", 20_000),)


@dataclass(frozen=True)
class Row:
    section: str
    key: str
    what: str
    unit: str = ""  # events/s, ×, s, ms, µs, MiB, or "" for a count
    op: str = ""  # ">=", "<=", "==" or "" (reported, no target)
    target: float | str | None = None  # a number, or the key whose value must be equalled
    size_key: str | None = None  # the key holding the size it was measured at
    spec_size: int | None = None  # the size SPEC §9 (or the issue) asks for
    more_sizes: tuple[tuple[str, int], ...] = ()  # other (key, size asked for) pairs of the same measurement


ROWS: tuple[Row, ...] = (
    Row("throughput", "throughput.events_per_second", "throughput, one worker, full pipeline, counted until idle",
        "events/s", size_key="throughput.events", spec_size=100_000),
    Row("throughput", "floor.events_per_second", "framework floor (bench/floor.py), same records, same run",
        "events/s", size_key="throughput.events", spec_size=100_000),
    Row("throughput", "raw.events_per_second", "raw aiokafka + decode, same records, same run", "events/s",
        size_key="throughput.events", spec_size=100_000),
    Row("throughput", "throughput.ratio_to_floor", "throughput ÷ framework floor", "×", ">=", 0.8,
        "throughput.events", 100_000),
    Row("throughput", "throughput.ratio_to_raw", "throughput ÷ raw", "×"),
    Row("throughput", "throughput.cpu_us_per_event", "worker CPU per event", "µs"),
    Row("throughput", "floor.cpu_us_per_event", "framework floor CPU per event", "µs"),
    Row("burst", "burst.emitted", '"Monday morning": stages emitted', "", "==", "burst.clocks", "burst.clocks",
        100_000),
    Row("burst", "burst.p99_seconds", '"Monday morning": emission lag p99 (record time − due)', "s", "<=", 10.0,
        "burst.clocks", 100_000),
    Row("burst", "burst.max_seconds", '"Monday morning": emission lag max', "s", size_key="burst.clocks",
        spec_size=100_000),
    Row("burst", "burst.emission_seconds", '"Monday morning": T → last breach event', "s",
        size_key="burst.clocks", spec_size=100_000),
    Row("breach_latency", "breach_latency.p99_ms", "steady breach latency p99 under load", "ms", "<=", 250.0,
        "breach_latency.open_clocks", 100_000),
    Row("open_clocks", "open_clocks.rss_mb", "whole-worker RSS, peak during ingestion and after", "MiB", "<=",
        1536.0, "open_clocks.clocks", MILLION),
    Row("open_clocks", "open_clocks.rss_idle_mb", "whole-worker RSS, idle after settling", "MiB",
        size_key="open_clocks.clocks", spec_size=MILLION),
    Row("open_clocks", "open_clocks.ingest_seconds", "ingesting the open clocks (from ready)", "s",
        size_key="open_clocks.clocks", spec_size=MILLION),
    Row("open_clocks", "open_clocks.events_per_second", "… rate", "events/s", size_key="open_clocks.clocks",
        spec_size=MILLION),
    Row("open_clocks", "open_clocks.producer_buffer_full", "`producer buffer full` warnings while ingesting", "",
        "==", 0.0, "open_clocks.clocks", MILLION),
    Row("restart", "restart.ready_seconds", "restart after SIGKILL on its data dir: spawn → ready", "s", "<=", 30.0,
        "restart.open_clocks", MILLION),
    Row("restart", "restart.overdue_missing", "stages due during the outage not emitted after restart", "", "==",
        0.0, "restart.open_clocks", MILLION),
    Row("restart", "restart.false_breaches", "breaches of clocks not due (false)", "", "==", 0.0,
        "restart.open_clocks", MILLION),
    Row("restart", "restart.empty_dir_ready_seconds", "restart on an empty data dir (restore from changelogs)", "s",
        size_key="restart.open_clocks", spec_size=MILLION),
    Row("restart", "restart.rss_peak_mb", "whole-worker RSS, peak over the restarts", "MiB", "<=", 1536.0,
        "restart.open_clocks", MILLION),
    Row("standby", "standby.failover_ready_seconds", "failover with a standby replica: kill → survivor ready", "s",
        size_key="standby.clocks", spec_size=200_000),
    Row("standby", "standby.session_timeout_seconds", "… of which until the group noticed (session timeout)", "s",
        size_key="standby.clocks", spec_size=200_000),
    Row("standby", "standby.failover_ready_seconds_without", "failover without standby replicas", "s",
        size_key="standby.clocks", spec_size=200_000),
    Row("scrape", "scrape.cpu_ms", "`/metrics`: worker CPU per scrape", "ms", "<=", 100.0, "scrape.reps", 2_000,
        SCRAPE_LEADS),
    Row("scrape", "scrape.breach_p99_ms_scraping", "breach latency p99 while scraping in a loop", "ms", "<=", 250.0,
        "scrape.reps", 2_000, SCRAPE_LEADS),
    Row("scrape", "scrape.breach_p99_ms_quiet", "… with nobody scraping", "ms", size_key="scrape.reps",
        spec_size=2_000, more_sizes=SCRAPE_LEADS),
    Row("offline", "offline.backtest_rss_mb", "`backtest`: peak RSS", "MiB", "<=", 1024.0, "offline.events", MILLION),
    Row("offline", "offline.backtest_ratio", "`backtest` time ÷ reading and validating the file", "×", "<=", 10.0,
        "offline.events", MILLION),
    Row("offline", "offline.analyze_rss_mb", "`analyze`: peak RSS", "MiB", "<=", 1024.0, "offline.events", MILLION),
    Row("offline", "offline.analyze_ratio", "`analyze` time ÷ reading and validating the file", "×", "<=", 10.0,
        "offline.events", MILLION),
    Row("deadlines", "deadlines.sweep_ratio", "deadline index: sweep cost, 1M vs 10k open (O(due))", "×", "<=", 3.0,
        "deadlines.leads", MILLION),
)


# The keys docs/benchmarks.json always has (null when not measured).
REQUIRED_KEYS: tuple[str, ...] = (
    "throughput.events_per_second", "throughput.ratio_to_floor", "throughput.ratio_to_raw",
    "floor.events_per_second", "raw.events_per_second",
    "burst.clocks", "burst.p99_seconds", "burst.max_seconds", "burst.emitted",
    "breach_latency.open_clocks", "breach_latency.p99_ms",
    "open_clocks.clocks", "open_clocks.rss_mb", "open_clocks.ingest_seconds", "open_clocks.events_per_second",
    "open_clocks.producer_buffer_full",
    "restart.open_clocks", "restart.ready_seconds", "restart.overdue_emitted", "restart.false_breaches",
    "restart.empty_dir_ready_seconds",
    "standby.clocks", "standby.failover_ready_seconds", "standby.failover_ready_seconds_without",
    "scrape.reps", "scrape.cpu_ms", "scrape.wall_ms", "scrape.bytes", "scrape.lines",
    "offline.events", "offline.backtest_seconds", "offline.backtest_rss_mb", "offline.analyze_seconds",
    "offline.analyze_rss_mb", "offline.read_seconds", "offline.read_rss_mb",
)


def with_required(flat: dict) -> dict:
    """``flat`` with every required key and every table key present (None when not measured)."""
    keys = dict.fromkeys([*REQUIRED_KEYS, *(row.key for row in ROWS)])
    return {**keys, **flat}


def _number(value) -> float | None:
    if is_missing(value) or isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def target_value(row: Row, flat: dict) -> float | None:
    if isinstance(row.target, str):
        return _number(flat.get(row.target))
    return row.target


def verdict(row: Row, flat: dict) -> str:
    """pass / FAIL / n/a / — (no target)."""
    value = _number(flat.get(row.key))
    if value is None:
        return "n/a"
    if not row.op:
        return "—"
    target = target_value(row, flat)
    if target is None:
        return "n/a"
    if row.op == ">=":
        ok = value >= target
    elif row.op == "<=":
        ok = value <= target
    elif row.op == "==":
        ok = math.isclose(value, target)
    else:
        raise ValueError(row.op)
    return "pass" if ok else "FAIL"


def format_value(value, unit: str) -> str:
    number = _number(value)
    if number is None:
        return "n/a"
    if not unit:
        return fmt(int(number)) if number == int(number) else fmt(number)
    if unit == "×":
        return f"{fmt(number)}×"
    return f"{fmt(number)} {unit}"


def target_text(row: Row, flat: dict) -> str:
    if not row.op:
        return "—"
    if isinstance(row.target, str):
        target = target_value(row, flat)
        shown = f" ({fmt(int(target))})" if target is not None else ""
        return f"= `{row.target}`{shown}"
    symbol = {">=": "≥", "<=": "≤", "==": "="}[row.op]
    return f"{symbol} {format_value(row.target, row.unit)}"


def scale_text(row: Row, flat: dict) -> str:
    """"full (N)" when measured at the size asked for, else "reduced: n of N"."""
    if not row.size_key or not row.spec_size:
        return "—"
    size = _number(flat.get(row.size_key))
    if size is None:
        return "—"
    for key, spec in ((row.size_key, row.spec_size), *row.more_sizes):
        value = _number(flat.get(key))
        if value is not None and value < spec:
            what = "" if key == row.size_key else f" {key.rsplit('.', 1)[-1]}"
            return f"**reduced**: {fmt(int(value))} of {fmt(spec)}{what}"
    return f"full ({fmt(int(size))})"


def table(flat: dict, errors: dict[str, str] | None = None, run: set[str] | None = None) -> str:
    """The results table. ``errors``: section → message of the sections that
    failed; ``run``: the sections that were run (others show "not run")."""
    errors = errors or {}
    rows = []
    for row in ROWS:
        v = verdict(row, flat)
        if v == "n/a":
            if row.section in errors:
                v = "n/a (section failed)"
            elif run is not None and row.section not in run:
                v = "n/a (not run)"
        rows.append(
            [row.what, f"`{row.key}`", format_value(flat.get(row.key), row.unit), target_text(row, flat), v,
             scale_text(row, flat)]
        )
    return markdown_table(["what", "key", "measured", "target", "verdict", "size"], rows)


def verdict_counts(flat: dict) -> dict[str, int]:
    counts = {"pass": 0, "FAIL": 0, "n/a": 0}
    for row in ROWS:
        if row.op:
            counts[verdict(row, flat)] += 1
    return counts
