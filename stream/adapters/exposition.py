"""Prometheus text exposition of the per-rep families, written directly.

With 2,000 reps a worker exports around a hundred thousand per-rep samples.
``prometheus_client`` builds an object per sample and locks per child on
every update; here counters and histograms are plain dicts of floats and a
family is formatted as text in one pass, with each rep's label string built
once. The small families (inputs, timer lag, process, health) stay on
``prometheus_client``; ``/metrics`` serves both, one after the other.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence


def label_value(text: str) -> str:
    """A label value escaped for the text format."""
    return text.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def number(value: float) -> str:
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value)}.0"
    return repr(float(value))


class Family:
    """One metric family's text: ``# HELP``, ``# TYPE`` and its sample lines."""

    __slots__ = ("lines",)

    def __init__(self, name: str, kind: str, help_text: str) -> None:
        self.lines = [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]

    def add(self, sample: str, labels: str, value: float) -> None:
        """``labels`` is the rendered ``a="x",b="y"`` (empty for none)."""
        self.lines.append(f"{sample}{{{labels}}} {number(value)}" if labels else f"{sample} {number(value)}")

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


class LabelCache:
    """``rep="…"`` (and ``rep="…",team="…"``) strings, built once per rep."""

    def __init__(self) -> None:
        self._rep: dict[str, str] = {}
        self._rep_team: dict[tuple[str, str], str] = {}

    def rep(self, rep: str) -> str:
        text = self._rep.get(rep)
        if text is None:
            text = self._rep[rep] = f'rep="{label_value(rep)}"'
        return text

    def rep_team(self, rep: str, team: str) -> str:
        text = self._rep_team.get((rep, team))
        if text is None:
            text = self._rep_team[(rep, team)] = f'{self.rep(rep)},team="{label_value(team)}"'
        return text


class CounterFamily:
    """A counter with a ``rep`` label and fixed other labels, as a dict. A
    series' line is kept until it changes: a scrape formats what changed."""

    def __init__(self, name: str, help_text: str, labels: Sequence[str]) -> None:
        self.name = name
        self.help_text = help_text
        self.labels = tuple(labels)
        self.values: dict[tuple[str, ...], float] = {}
        self._lines: dict[tuple[str, ...], str] = {}

    def inc(self, *label_values: str, amount: float = 1.0) -> None:
        self.values[label_values] = self.values.get(label_values, 0.0) + amount
        self._lines.pop(label_values, None)

    def get(self, *label_values: str) -> float:
        return self.values.get(label_values, 0.0)

    def render(self, cache: LabelCache) -> str:
        family = Family(f"{self.name}_total", "counter", self.help_text)
        sample = f"{self.name}_total"
        others = self.labels[1:]
        kept = self._lines
        for key in sorted(self.values):
            line = kept.get(key)
            if line is None:
                rest = "".join(f',{name}="{label_value(v)}"' for name, v in zip(others, key[1:]))
                line = kept[key] = f"{sample}{{{cache.rep(key[0])}{rest}}} {number(self.values[key])}"
            family.lines.append(line)
        return family.text()


class HistogramFamily:
    """A histogram by ``rep``: cumulative bucket counts, sum and count per rep."""

    def __init__(self, name: str, help_text: str, buckets: Iterable[float]) -> None:
        self.name = name
        self.help_text = help_text
        self.bounds = tuple(float(b) for b in buckets)
        self._le = [f'le="{number(b)}"' for b in self.bounds] + ['le="+Inf"']
        # rep -> [count per bucket (not cumulative) ..., +Inf bucket, sum]
        self.values: dict[str, list[float]] = {}
        self._text: dict[str, str] = {}  # rep -> its lines, until it changes

    def _row(self, rep: str) -> list[float]:
        row = self.values.get(rep)
        if row is None:
            row = self.values[rep] = [0.0] * (len(self.bounds) + 2)
        return row

    def start(self, rep: str) -> None:
        """Export ``rep``'s series at zero, so that its first observation is a step rate() can see."""
        self._row(rep)

    def observe(self, rep: str, value: float) -> None:
        row = self._row(rep)
        row[bisect.bisect_left(self.bounds, value)] += 1
        row[-1] += value
        self._text.pop(rep, None)

    def count(self, rep: str) -> float:
        row = self.values.get(rep)
        return sum(row[:-1]) if row else 0.0

    def render(self, cache: LabelCache) -> str:
        family = Family(self.name, "histogram", self.help_text)
        kept = self._text
        for rep in sorted(self.values):
            text = kept.get(rep)
            if text is None:
                text = kept[rep] = self._rep_text(rep, cache.rep(rep))
            family.lines.append(text)
        return family.text()

    def _rep_text(self, rep: str, labels: str) -> str:
        bucket, total, count = f"{self.name}_bucket", f"{self.name}_sum", f"{self.name}_count"
        row = self.values[rep]
        lines = []
        running = 0.0
        for le, n in zip(self._le, row[:-1]):
            running += n
            lines.append(f"{bucket}{{{le},{labels}}} {number(running)}")
        lines.append(f"{count}{{{labels}}} {number(running)}")
        lines.append(f"{total}{{{labels}}} {number(row[-1])}")
        return "\n".join(lines)
