"""Prometheus metrics of SPEC §7, on a registry of their own.

Updating a metric only changes memory; serving is in web.py. Numbers that
live in the deadline index are read at scrape time by a custom collector,
not pushed on every event. The ``rep`` label is bounded: the roster plus at
most ``max_rep_labels`` other ids, then ``other``; no owner is ``unassigned``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from stream.service.deadlines import DeadlineIndex

UNASSIGNED = "unassigned"
OTHER = "other"

# The five-minute rule: resolution around 300 s, tail up to days.
RESPONSE_BUCKETS = (10, 30, 60, 120, 180, 240, 300, 450, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400, 259200)
LAG_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)


class RepLabels:
    """Maps rep ids to bounded label values."""

    def __init__(self, max_labels: int, roster: Callable[[], Iterable[str]] = lambda: ()) -> None:
        self.max_labels = max_labels
        self.roster = roster
        self._seen: set[str] = set()

    def __call__(self, rep_id: str | None) -> str:
        if not rep_id:
            return UNASSIGNED
        if rep_id in self._seen:
            return rep_id
        if rep_id in set(self.roster()) or len(self._seen) < self.max_labels:
            self._seen.add(rep_id)
            return rep_id
        return OTHER


class OpenClocksCollector(Collector):
    def __init__(self, index: DeadlineIndex, rep_label: RepLabels, clock: Callable[[], float] = time.time):
        self.index = index
        self.rep_label = rep_label
        self.clock = clock

    def collect(self):
        open_clocks = GaugeMetricFamily(
            "sla_open_response_clocks", "Response clocks open on this worker (workable leads not yet called)."
        )
        open_clocks.add_metric([], self.index.open_clocks)
        uncontacted = GaugeMetricFamily(
            "sla_uncontacted_workable_leads", "Workable leads with an open response clock, by owner.", labels=["rep"]
        )
        oldest = GaugeMetricFamily(
            "sla_oldest_uncontacted_seconds",
            "Age of the oldest open response clock, by owner (wall-clock seconds since its start).",
            labels=["rep"],
        )
        now = self.clock()
        counts: dict[str, int] = {}
        starts: dict[str, float] = {}
        for rep, count, started_at in self.index.open_by_rep():
            label = self.rep_label(rep)
            counts[label] = counts.get(label, 0) + count
            starts[label] = min(starts.get(label, started_at), started_at)
        for label in sorted(counts):
            uncontacted.add_metric([label], counts[label])
            oldest.add_metric([label], max(0.0, now - starts[label]))
        yield open_clocks
        yield uncontacted
        yield oldest


class Metrics:
    def __init__(self, registry: CollectorRegistry, rep_label: RepLabels) -> None:
        self.registry = registry
        self.rep_label = rep_label
        self.events = Counter(
            "sla_events", "Input records by topic and result.", ["topic", "result"], registry=registry
        )
        self.leads_scored = Counter(
            "sla_leads_scored", "Scoring decisions by owner and verdict.", ["rep", "workable"], registry=registry
        )
        self.first_response = Histogram(
            "sla_first_response_seconds",
            "Response time of every clock: start to first call, in SLA-clock seconds.",
            ["rep"],
            buckets=RESPONSE_BUCKETS,
            registry=registry,
        )
        self.breaches = Counter(
            "sla_breaches", "Breach events emitted.", ["rep", "breach_type", "stage"], registry=registry
        )
        self.timer_lag = Histogram(
            "sla_timer_lag_seconds",
            "Emission time minus due time of breach stages.",
            ["breach_type"],
            buckets=LAG_BUCKETS,
            registry=registry,
        )

    def watch(self, index: DeadlineIndex) -> None:
        self.registry.register(OpenClocksCollector(index, self.rep_label))
