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

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date, tzinfo

from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from stream.adapters.exposition import CounterFamily, Family, HistogramFamily, LabelCache
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


class RepSlaSeries:
    """The per-rep gauges of this worker's active partitions, read at scrape
    time: open, uncontacted and overdue clocks from the deadline index; the
    cohort windows from the per-rep day buckets; and the marketing target and
    expected-to-date (the same on every worker)."""

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
        # (rep, local date) -> (elapsed, in month) business days; dropped when the roster changes
        self._progress: dict[tuple[str, date], tuple[int, int]] = {}
        self._progress_version = -1

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
        for label, team in sorted(labels):
            info.add("sla_rep_info", cache.rep_team(label, team), 1)
        yield info.text()

    def _open_clocks(self, now: float, labels: set[tuple[str, str]], cache: LabelCache) -> Iterator[str]:
        open_clocks = Family(
            "sla_open_response_clocks", "gauge", "Response clocks open on this worker (workable leads not yet called)."
        )
        open_clocks.add("sla_open_response_clocks", "", self.index.open_clocks)
        yield open_clocks.text()
        counts: dict[str, int] = {}
        starts: dict[str, float] = {}
        for rep, count, started_at in self.index.open_by_rep():
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

    def _rep_windows(self, now: float, labels: set[tuple[str, str]], cache: LabelCache) -> Iterator[str]:
        roster = self.calendars.roster()
        reps = set(active_reps(self.policy, roster)) | set(self.rep_table.reps())
        target = target_for(self.policy, roster)
        if self._progress_version != self.calendars.version:
            self._progress.clear()
            self._progress_version = self.calendars.version
        today_in: dict[tzinfo, date] = {}
        # (rep label, team) -> window -> summed COUNTS; -> [target, expected]
        windows: dict[tuple[str, str], dict[str, list[int]]] = {}
        marketing: dict[tuple[str, str], list[float]] = {}
        for n, rep in enumerate(reps, 1):
            if n % YIELD_EVERY_REPS == 0:
                yield ""  # lets the event loop in: a big roster takes a while
            calendar = rep_calendar(self.calendars.calendar_for, rep)
            zone = calendar.zone
            today = today_in.get(zone)
            if today is None:
                today = today_in[zone] = local_day(now, zone)
            key = self._key(rep)
            mine = self.rep_table.window_counts(rep, today)
            into = windows.setdefault(key, {})
            for window, counts in mine.items():
                into[window] = [a + b for a, b in zip(into[window], counts)] if window in into else counts
            monthly = None if rep == UNASSIGNED else target(rep)
            if monthly is None:
                continue
            progress = self._progress.get((rep, today))
            if progress is None:
                if len(self._progress) > 4 * len(reps) + 64:
                    self._progress.clear()  # yesterday's answers
                progress = self._progress[(rep, today)] = business_days_progress(calendar, today)
            expected = expected_to_date(monthly, *progress) or 0.0
            totals = marketing.setdefault(key, [0.0, 0.0])
            totals[0] += monthly
            totals[1] += expected
        ordered = sorted(windows.items())
        for name, help_text, read in REP_GAUGES:
            family = Family(name, "gauge", help_text + " This worker's partitions.")
            for (label, team), per_window in ordered:
                rep_team = cache.rep_team(label, team)
                for window in LIVE_WINDOWS:
                    family.add(name, f'{rep_team},window="{window}"', read(per_window[window]))
            yield family.text()
        target_family = Family(
            "sla_marketing_target", "gauge", "The month's workable-lead target per rep (same on every worker)."
        )
        expected_family = Family(
            "sla_marketing_expected_to_date",
            "gauge",
            "Target × elapsed business days ÷ business days in the month, per rep (same on every worker).",
        )
        for (label, team), (monthly, expected) in sorted(marketing.items()):
            target_family.add("sla_marketing_target", cache.rep_team(label, team), monthly)
            expected_family.add("sla_marketing_expected_to_date", cache.rep_team(label, team), expected)
        yield target_family.text()
        yield expected_family.text()
        labels.update(windows)


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
