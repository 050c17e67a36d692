"""Prometheus metrics of SPEC §7.

Updating a metric only changes memory; serving is in web.py. Numbers that
live in the deadline index and the per-rep table are read at scrape time,
not pushed on every event.

Every worker exports *additive* series for its own active partitions only:
sum them across workers for the whole group; the ratios are Prometheus
recording rules (``deploy/prometheus/rules/``). The ``rep`` label is
bounded: the roster plus at most ``max_rep_labels`` other ids, then
``other``; no owner is ``unassigned``. ``team`` is the rep's roster team, or
``none``.

The small families are ``prometheus_client`` metrics on a registry of their
own; the per-rep families, tens of thousands of samples with a big roster,
are formatted directly (``stream.adapters.exposition``).
"""

from __future__ import annotations

import math
import time
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date, tzinfo
from typing import NamedTuple

from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from stream.adapters.exposition import CounterFamily, Family, HistogramFamily, LabelCache, number
from stream.domain.rep_stats import UNASSIGNED, business_days_progress, expected_to_date, local_day, rep_calendar
from stream.policy import Policy
from stream.service.backtest import active_reps, target_for
from stream.service.calendars import CalendarBook
from stream.service.deadlines import DeadlineIndex
from stream.service.rep_table import COUNTS, LIVE_WINDOWS, RepTable

OTHER = "other"
NO_TEAM = "none"

# The five-minute rule: resolution around 300 s, tail up to days.
RESPONSE_BUCKETS = (10, 30, 60, 120, 180, 240, 300, 450, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400, 259200)
LAG_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
# Per-rep rendering hands the event loop back this often (reps).
YIELD_EVERY_REPS = 100

# sla_rep_<name> gauge -> (help, how to read it from the per-window COUNTS)
_WORKABLE, _ATTEMPTS, _CONNECTED, _PIPELINE, _WITHIN, _MISSED = range(len(COUNTS))
REP_GAUGES: tuple[tuple[str, str, Callable[[list[int]], int]], ...] = (
    ("sla_rep_workable_leads", "Leads that became workable in the window (cohort), by owner then.", lambda c: c[_WORKABLE]),
    ("sla_rep_attempts", "Call attempts on the window's workable leads since they became workable.", lambda c: c[_ATTEMPTS]),
    ("sla_rep_connected_leads", "The window's workable leads with at least one connected call.", lambda c: c[_CONNECTED]),
    ("sla_rep_pipeline_leads", "The window's workable leads with an opportunity created.", lambda c: c[_PIPELINE]),
    (
        "sla_rep_response_clocks",
        "First-response clocks of the window's leads decided: responded, or past due.",
        lambda c: c[_WITHIN] + c[_MISSED],
    ),
    (
        "sla_rep_response_clocks_within_sla",
        "First-response clocks of the window's leads answered within the deadline.",
        lambda c: c[_WITHIN],
    ),
)


class RepLabels:
    """Maps rep ids to bounded label values: every roster rep keeps its own
    label; at most ``max_labels`` other ids get one (first come), the rest
    are ``other``."""

    def __init__(self, max_labels: int, roster: Callable[[], Iterable[str]] = lambda: (), version=lambda: 0) -> None:
        self.max_labels = max_labels
        self.roster = roster
        self.version = version  # changes when the roster does
        self._roster: frozenset[str] = frozenset()
        self._roster_version = None
        self._others: set[str] = set()

    def __call__(self, rep_id: str | None) -> str:
        if not rep_id or rep_id == UNASSIGNED:
            return UNASSIGNED
        if rep_id in self._others:
            return rep_id
        if self._roster_version != self.version():
            self._roster = frozenset(self.roster())
            self._roster_version = self.version()
        if rep_id in self._roster:
            return rep_id
        if len(self._others) < self.max_labels:
            self._others.add(rep_id)
            return rep_id
        return OTHER


class _Row(NamedTuple):
    """One rep's part of its label's per-rep gauges."""

    key: tuple[str, str]  # (rep label, team label)
    counts: tuple[int, ...]  # COUNTS per window of LIVE_WINDOWS, one after the other
    pacing: tuple[int, float] | None  # (monthly target, expected to date); None: no target


class RepSlaSeries:
    """The per-rep gauges of this worker's active partitions, read at scrape
    time: open, uncontacted and overdue clocks from the deadline index; the
    cohort windows from the per-rep day buckets; and the marketing target and
    expected-to-date (the same on every worker).

    A scrape costs what changed since the last one: each rep's row is kept
    and summed into its label's, and redone only when the rep table reports
    the rep changed; everything is redone when a local day turns or the
    roster changes. The text of a label's samples is kept while its values
    stay the same. So a roster of thousands, or a flood of ids folded into
    ``other``, costs a scrape little beyond the reps that had events.
    """

    def __init__(
        self,
        index: DeadlineIndex,
        rep_table: RepTable,
        calendars: CalendarBook,
        policy: Policy,
        rep_label: RepLabels,
    ) -> None:
        self.index = index
        self.rep_table = rep_table
        self.calendars = calendars
        self.policy = policy
        self.rep_label = rep_label
        self._version: int | None = None  # the roster version the rows were made for
        self._days: dict[tzinfo, date] = {}  # the local day the rows were made for, per zone
        self._active: frozenset[str] = frozenset()
        self._target: Callable[[str], int | None] = lambda rep: None
        self._pending: set[str] = set()  # reps whose row is to be redone
        # (calendar, local day) -> (elapsed, in month) business days: reps share calendars
        self._progress: dict[tuple[object, date], tuple[int, int]] = {}
        self._rows: dict[str, _Row] = {}
        # per (rep label, team): summed counts, reps in it, tally of pacings
        self._sums: dict[tuple[str, str], list[int]] = {}
        self._members: dict[tuple[str, str], int] = {}
        self._pacing: dict[tuple[str, str], Tally[tuple[int, float]]] = {}
        # (rep label, team) -> (sums it was made for, one text per REP_GAUGES family)
        self._text: dict[tuple[str, str], tuple[tuple[int, ...], list[str]]] = {}
        self._marketing_text: dict[tuple[str, str], tuple[tuple[int, float], tuple[str, str]]] = {}

    def _key(self, rep: str | None) -> tuple[str, str]:
        """(rep label, team label); reps folded into ``other`` have no one team."""
        label = self.rep_label(rep)
        if label in (OTHER, UNASSIGNED):
            return label, NO_TEAM
        return label, self.calendars.team_of(rep) or NO_TEAM

    def render(self, now: float, cache: LabelCache) -> Iterator[str]:
        """The families' text, one family at a time."""
        labels: set[tuple[str, str]] = set()
        yield from self._open_clocks(now, labels, cache)
        yield from self._rep_windows(now, labels, cache)
        info = Family("sla_rep_info", "gauge", "1 for every rep label this worker exports, with the rep's team.")
        info.lines.extend(f"sla_rep_info{{{cache.rep_team(label, team)}}} 1.0" for label, team in sorted(labels))
        yield info.text()

    def _open_clocks(self, now: float, labels: set[tuple[str, str]], cache: LabelCache) -> Iterator[str]:
        open_clocks = Family(
            "sla_open_response_clocks", "gauge", "Response clocks open on this worker (workable leads not yet called)."
        )
        open_clocks.add("sla_open_response_clocks", "", self.index.open_clocks)
        yield open_clocks.text()
        counts: dict[str, int] = {}
        starts: dict[str, float] = {}
        for n, (rep, count, started_at) in enumerate(self.index.open_by_rep(), 1):
            if n % (10 * YIELD_EVERY_REPS) == 0:
                yield ""
            key = self._key(rep)
            labels.add(key)
            label = key[0]
            counts[label] = counts.get(label, 0) + count
            starts[label] = min(starts.get(label, started_at), started_at)
        late: dict[str, int] = dict.fromkeys(counts, 0)
        for rep, count in self.index.overdue_by_rep(now).items():
            label = self.rep_label(rep)
            late[label] = late.get(label, 0) + count
        for name, help_text, values in (
            (
                "sla_uncontacted_workable_leads",
                "Workable leads with an open response clock, by owner.",
                counts,
            ),
            (
                "sla_oldest_uncontacted_seconds",
                "Age of the oldest open response clock, by owner (wall-clock seconds since its start).",
                {label: max(0.0, now - started) for label, started in starts.items()},
            ),
            (
                "sla_overdue_response_clocks",
                "Open response clocks past their breach stage in SLA time, by owner.",
                late,
            ),
        ):
            family = Family(name, "gauge", help_text)
            for label in sorted(values):
                family.add(name, cache.rep(label), values[label])
            yield family.text()

    # -- the cohort windows and marketing pacing, kept per rep -----------------
    def _refresh(self, now: float) -> None:
        """Mark the reps whose rows are out of date at ``now``."""
        changed = self.rep_table.take_changed()
        turned = any(local_day(now, zone) != day for zone, day in self._days.items())
        if changed is None or turned or self._version != self.calendars.version:
            roster = self.calendars.roster()
            self._version = self.calendars.version
            self._days.clear()
            self._progress.clear()
            self._active = frozenset(active_reps(self.policy, roster))
            self._target = target_for(self.policy, roster)
            for kept in (self._rows, self._sums, self._members, self._pacing, self._text, self._marketing_text):
                kept.clear()
            self._pending = set(self._active) | set(self.rep_table.reps())
        else:
            self._pending |= changed

    def _redo(self, rep: str, now: float) -> None:
        old = self._rows.pop(rep, None)
        if old is not None:
            self._fold(old, -1)
        if rep not in self._active and not self.rep_table.has(rep):
            return
        calendar = rep_calendar(self.calendars.calendar_for, rep)
        today = self._days.get(calendar.zone)
        if today is None:
            today = self._days[calendar.zone] = local_day(now, calendar.zone)
        windows = self.rep_table.window_counts(rep, today)
        counts = tuple(n for window in LIVE_WINDOWS for n in windows[window])
        monthly = None if rep == UNASSIGNED else self._target(rep)
        pacing = None
        if monthly is not None:
            progress = self._progress.get((calendar, today))
            if progress is None:
                progress = self._progress[(calendar, today)] = business_days_progress(calendar, today)
            pacing = (monthly, expected_to_date(monthly, *progress) or 0.0)
        row = self._rows[rep] = _Row(self._key(rep), counts, pacing)
        self._fold(row, +1)

    def _fold(self, row: _Row, sign: int) -> None:
        """Add (or take away) one rep's row from its label's sums."""
        key = row.key
        sums = self._sums.get(key)
        if sums is None:
            sums = self._sums[key] = [0] * len(row.counts)
            self._pacing[key] = Tally()
        for i, n in enumerate(row.counts):
            sums[i] += sign * n
        if row.pacing is not None:
            pacing = self._pacing[key]
            pacing[row.pacing] += sign
            if not pacing[row.pacing]:
                del pacing[row.pacing]
        members = self._members[key] = self._members.get(key, 0) + sign
        if not members:
            for kept in (self._sums, self._members, self._pacing, self._text, self._marketing_text):
                kept.pop(key, None)

    def _texts(self, key: tuple[str, str], cache: LabelCache) -> list[str]:
        """The key's sample lines of each REP_GAUGES family, remade only when its sums change."""
        sums = tuple(self._sums[key])
        kept = self._text.get(key)
        if kept is not None and kept[0] == sums:
            return kept[1]
        rep_team = cache.rep_team(*key)
        width = len(COUNTS)
        texts = []
        for name, _, read in REP_GAUGES:
            lines = []
            for w, window in enumerate(LIVE_WINDOWS):
                value = read(sums[w * width : (w + 1) * width])
                lines.append(f'{name}{{{rep_team},window="{window}"}} {number(value)}')
            texts.append("\n".join(lines))
        self._text[key] = (sums, texts)
        return texts

    def _marketing(self, key: tuple[str, str], cache: LabelCache) -> tuple[str, str] | None:
        pacing = self._pacing[key]
        if not pacing:
            return None
        values = (sum(t * n for (t, _), n in pacing.items()), math.fsum(e * n for (_, e), n in pacing.items()))
        kept = self._marketing_text.get(key)
        if kept is not None and kept[0] == values:
            return kept[1]
        rep_team = cache.rep_team(*key)
        texts = (
            f"sla_marketing_target{{{rep_team}}} {number(values[0])}",
            f"sla_marketing_expected_to_date{{{rep_team}}} {number(values[1])}",
        )
        self._marketing_text[key] = (values, texts)
        return texts

    def _rep_windows(self, now: float, labels: set[tuple[str, str]], cache: LabelCache) -> Iterator[str]:
        self._refresh(now)
        n = 0
        while self._pending:  # a scrape cut short leaves the rest for the next
            self._redo(self._pending.pop(), now)
            n += 1
            if n % YIELD_EVERY_REPS == 0:
                yield ""  # lets the event loop in: a big roster takes a while
        ordered = sorted(self._sums)
        texts = [self._texts(key, cache) for key in ordered]
        for i, (name, help_text, _) in enumerate(REP_GAUGES):
            family = Family(name, "gauge", help_text + " This worker's partitions.")
            family.lines.extend(t[i] for t in texts)
            yield family.text()
        target_family = Family(
            "sla_marketing_target", "gauge", "The month's workable-lead target per rep (same on every worker)."
        )
        expected_family = Family(
            "sla_marketing_expected_to_date",
            "gauge",
            "Target × elapsed business days ÷ business days in the month, per rep (same on every worker).",
        )
        for key in ordered:
            pair = self._marketing(key, cache)
            if pair is not None:
                target_family.lines.append(pair[0])
                expected_family.lines.append(pair[1])
        yield target_family.text()
        yield expected_family.text()
        labels.update(ordered)


class WorkerCollector(Collector):
    """The worker's own health: ready or not, assigned partitions, consumer lag."""

    def __init__(
        self,
        ready: Callable[[], bool],
        assigned_partitions: Callable[[], int],
        lag: Callable[[], Mapping[str, int]],
    ) -> None:
        self.ready = ready
        self.assigned_partitions = assigned_partitions
        self.lag = lag

    def describe(self):
        return []

    def collect(self):
        ready = GaugeMetricFamily("sla_worker_ready", "1 when this worker is ready (/readyz answers 200), else 0.")
        ready.add_metric([], 1.0 if self.ready() else 0.0)
        yield ready
        assigned = GaugeMetricFamily(
            "sla_assigned_partitions", "Partitions of the lead topics this worker processes (active, not standby)."
        )
        assigned.add_metric([], self.assigned_partitions())
        yield assigned
        lag = GaugeMetricFamily(
            "sla_consumer_lag_records",
            "Records of this worker's assigned input partitions not processed yet, by topic.",
            labels=["topic"],
        )
        for topic, records in sorted(self.lag().items()):
            lag.add_metric([topic], records)
        yield lag


class Metrics:
    def __init__(self, registry: CollectorRegistry, rep_label: RepLabels) -> None:
        self.registry = registry
        self.rep_label = rep_label
        self.events = Counter(
            "sla_events", "Input records by topic and result.", ["topic", "result"], registry=registry
        )
        self.timer_lag = Histogram(
            "sla_timer_lag_seconds",
            "Emission time minus due time of breach stages.",
            ["breach_type"],
            buckets=LAG_BUCKETS,
            registry=registry,
        )
        self.rebalances = Counter(
            "sla_rebalances", "Consumer group rebalances this worker went through.", registry=registry
        )
        ProcessCollector(registry=registry)
        self.leads_scored = CounterFamily(
            "sla_leads_scored", "Scoring decisions by owner and verdict.", ["rep", "workable"]
        )
        self.first_response = HistogramFamily(
            "sla_first_response_seconds",
            "Response time of every clock: start to first call, in SLA-clock seconds.",
            RESPONSE_BUCKETS,
        )
        self.breaches = CounterFamily("sla_breaches", "Breach events emitted.", ["rep", "breach_type", "stage"])
        self.rep_series: RepSlaSeries | None = None
        self._labels = LabelCache()

    def watch(self, *collectors: Collector) -> None:
        for collector in collectors:
            self.registry.register(collector)

    # -- updates ---------------------------------------------------------------
    def scored(self, rep_id: str | None, workable: bool) -> None:
        self.leads_scored.inc(self.rep_label(rep_id), "true" if workable else "false")

    def responded(self, rep_id: str | None, seconds: float) -> None:
        self.first_response.observe(self.rep_label(rep_id), seconds)

    def breached(self, rep_id: str | None, breach_type: str, stage: str, lag_seconds: float | None) -> None:
        self.breaches.inc(self.rep_label(rep_id), breach_type, stage)
        if lag_seconds is not None:
            self.timer_lag.labels(breach_type=breach_type).observe(max(0.0, lag_seconds))

    def start_reps(self, rep_ids: Iterable[str]) -> None:
        """Export a roster rep's response-time series at zero before its first
        response, so that ``rate()`` sees that first one too."""
        for rep_id in rep_ids:
            self.first_response.start(self.rep_label(rep_id))

    # -- the exposition ---------------------------------------------------------
    def render(self, now: float | None = None) -> Iterator[bytes]:
        """``/metrics``, a family (or the small families together) at a time."""
        now = time.time() if now is None else now
        yield generate_latest(self.registry)
        cache = self._labels
        if len(cache._rep) > 4 * self.rep_label.max_labels + 10_000:
            self._labels = cache = LabelCache()  # reps come and go: keep it bounded
        for family in (self.leads_scored, self.first_response, self.breaches):
            yield family.render(cache).encode()
        if self.rep_series is not None:
            for text in self.rep_series.render(now, cache):
                yield text.encode()
