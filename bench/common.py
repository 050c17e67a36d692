"""Helpers shared by the benchmarks: statistics, Prometheus text, machine facts.

The functions at the top are pure (unit-tested in tests/unit/test_bench.py);
the ones below ``# -- processes`` read /proc or run commands.
"""

from __future__ import annotations

import math
import os
import platform
import re
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


# -- statistics ----------------------------------------------------------------
def percentile(values: Sequence[float], q: float) -> float:
    """The q-quantile (0..1) with linear interpolation between closest ranks
    (numpy's default); nan for no values."""
    if not values:
        return math.nan
    if not 0 <= q <= 1:
        raise ValueError("q must be within 0..1")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def summarize(values: Sequence[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50": percentile(values, 0.5),
        "p90": percentile(values, 0.9),
        "p99": percentile(values, 0.99),
        "max": max(values) if values else math.nan,
        "min": min(values) if values else math.nan,
    }


# -- idle detection --------------------------------------------------------------
# A process is *busy* at a moment t when its CPU use over the window ending at
# t (at least ``IDLE_WINDOW`` seconds between two samples) was above
# ``IDLE_THRESHOLD`` of one core. "Counted until idle" ends at the last busy
# moment after the last input event was counted; a process is judged idle
# once ``IDLE_QUIET`` seconds have gone by without a busy moment.
IDLE_WINDOW = 0.5
IDLE_THRESHOLD = 0.10
IDLE_QUIET = 5.0


def busy_moments(
    samples: Sequence[tuple[float, float]], window: float = IDLE_WINDOW, threshold: float = IDLE_THRESHOLD
) -> list[float]:
    """The end of every window in which the CPU use was above ``threshold``
    cores. ``samples``: (time, cumulative CPU seconds), in time order; each
    window runs from the latest sample at least ``window`` seconds earlier."""
    out = []
    j = 0
    for i, (t, cpu) in enumerate(samples):
        while j + 1 < i and samples[j + 1][0] <= t - window:
            j += 1
        t0, cpu0 = samples[j]
        if t - t0 < window or t0 >= t:
            continue
        if (cpu - cpu0) / (t - t0) > threshold:
            out.append(t)
    return out


def last_busy(
    samples: Sequence[tuple[float, float]],
    since: float = -math.inf,
    window: float = IDLE_WINDOW,
    threshold: float = IDLE_THRESHOLD,
) -> float | None:
    """The last busy moment at or after ``since`` (None: none)."""
    recent = [x for x in samples if x[0] >= since - window]
    moments = [t for t in busy_moments(recent, window, threshold) if t >= since]
    return moments[-1] if moments else None


def idle_end(
    samples: Sequence[tuple[float, float]],
    since: float,
    quiet: float = IDLE_QUIET,
    window: float = IDLE_WINDOW,
    threshold: float = IDLE_THRESHOLD,
) -> float | None:
    """When the trailing work after ``since`` ended (the last busy moment, or
    ``since`` itself when there was none), once the samples show ``quiet``
    seconds without a busy moment after it; None while that is not known yet."""
    if not samples:
        return None
    end = last_busy(samples, since, window, threshold)
    end = since if end is None else end
    return end if samples[-1][0] - end >= quiet else None


def histogram_quantile(buckets: Sequence[tuple[float, float]], q: float) -> float:
    """Prometheus' histogram_quantile over cumulative ``(le, count)`` buckets
    (``le`` may be ``inf``): linear interpolation inside the bucket that holds
    the rank; the upper bound of the last finite bucket if the rank falls in
    +Inf; nan when empty."""
    ordered = sorted(buckets)
    if not ordered or ordered[-1][1] <= 0:
        return math.nan
    total = ordered[-1][1]
    rank = q * total
    prev_le, prev_count = 0.0, 0.0
    for le, count in ordered:
        if count >= rank:
            if math.isinf(le):
                return prev_le
            if count == prev_count:
                return le
            return prev_le + (le - prev_le) * (rank - prev_count) / (count - prev_count)
        prev_le, prev_count = le, count
    return prev_le


def histogram_delta(after: dict[float, float], before: dict[float, float]) -> list[tuple[float, float]]:
    """Cumulative buckets observed between two scrapes."""
    return sorted((le, count - before.get(le, 0.0)) for le, count in after.items())


def phase_durations(phases: Sequence[tuple[str, float]], ready: float) -> list[tuple[str, float, float]]:
    """(reason, start, seconds) for each not-ready reason in the order seen:
    each lasts until the next one starts, the last until ``ready``."""
    out = []
    for i, (reason, start) in enumerate(phases):
        end = phases[i + 1][1] if i + 1 < len(phases) else ready
        out.append((reason, start, max(0.0, end - start)))
    return out


def profile_group(filename: str, function: str = "") -> str:
    """A coarse owner for a profiled function: a site-packages distribution,
    a module group of this repository, asyncio, the rest of the standard
    library, or a kind of C built-in (socket I/O, the epoll wait, RocksDB...)."""
    if "site-packages/" in filename:
        return filename.split("site-packages/", 1)[1].split("/", 1)[0]
    for top in ("stream/", "schemas/", "bench/"):
        if f"/{top}" in filename or filename.startswith(top):
            rest = filename[filename.index(top) :]
            parts = rest.split("/")
            return "/".join(parts[:2]) if len(parts) > 2 else parts[0]
    if filename == "~" or filename.startswith("<"):
        if "_socket.socket" in function:
            return "C: socket I/O"
        if "epoll" in function:
            return "C: epoll wait"
        if "Rdict" in function or "rocksdict" in function:
            return "C: RocksDB"
        if "orjson" in function or function in ("<built-in method orjson.loads>", "<built-in method orjson.dumps>"):
            return "C: orjson"
        if "validate_python" in function or "SchemaValidator" in function:
            return "C: pydantic-core"
        return "C: other built-ins"
    if "/asyncio/" in filename:
        return "asyncio"
    return "stdlib"


def ratio(value: float, baseline: float) -> float:
    if not baseline or math.isnan(baseline) or math.isnan(value):
        return math.nan
    return value / baseline


def verdict(value: float, target: float, higher_is_better: bool = True) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    ok = value >= target if higher_is_better else value <= target
    return "pass" if ok else "FAIL"


def is_missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def fmt(value: float | int | None, digits: int = 3) -> str:
    """A number for a report: fixed significant digits, thousands separators."""
    if value is None:
        return "—"
    if isinstance(value, int):
        return f"{value:,}"
    if math.isnan(value):
        return "n/a"
    if value == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(value)))
    decimals = max(0, digits - 1 - magnitude)
    return f"{value:,.{decimals}f}"


def ms(seconds: float | None) -> str:
    return "n/a" if is_missing(seconds) else f"{fmt(1000 * seconds)} ms"


def us(seconds: float | None) -> str:
    return "n/a" if is_missing(seconds) else f"{fmt(1e6 * seconds)} µs"


def secs(seconds: float | None) -> str:
    return "n/a" if is_missing(seconds) else f"{fmt(seconds)} s"


def pct(share: float | None) -> str:
    return "n/a" if is_missing(share) else f"{100 * share:.1f} %"


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    def cell(v: object) -> str:
        return str(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


# -- Prometheus text -------------------------------------------------------------
def parse_metrics(text: str) -> dict[tuple[str, tuple], float]:
    """{(sample name, sorted label items): value} of a /metrics body."""
    from prometheus_client.parser import text_string_to_metric_families

    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def events_total(samples: dict[tuple[str, tuple], float], results=("ok", "duplicate", "invalid")) -> float:
    """Sum of ``sla_events_total`` over every topic for the given results."""
    total = 0.0
    for (name, labels), value in samples.items():
        if name == "sla_events_total" and dict(labels).get("result") in results:
            total += value
    return total


def histogram_buckets(samples: dict[tuple[str, tuple], float], name: str, **labels: str) -> dict[float, float]:
    """{le: cumulative count} of histogram ``name`` (the ``_bucket`` samples)
    summed over label sets matching ``labels``."""
    out: dict[float, float] = {}
    for (sample, items), value in samples.items():
        if sample != f"{name}_bucket":
            continue
        d = dict(items)
        if any(d.get(k) != v for k, v in labels.items()):
            continue
        le = float(d["le"])
        out[le] = out.get(le, 0.0) + value
    return out


# -- processes ---------------------------------------------------------------------
def rss_kib(pid: int | str = "self") -> int:
    """VmRSS of a process in KiB (Linux)."""
    text = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmRSS:\s+(\d+)\s+kB", text, re.M)
    return int(match.group(1)) if match else 0


def cpu_seconds(pid: int | str) -> float:
    """User + system CPU time so far of a process (or ``"pid/task/tid"``, a thread)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def _run(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip("\n")
    except (OSError, subprocess.SubprocessError):
        return "?"


def kafka_version() -> str:
    lib = ROOT / "deploy" / "kafka" / "target" / "lib"
    for jar in sorted(lib.glob("kafka-clients-*.jar")) if lib.is_dir() else []:
        return jar.stem.removeprefix("kafka-clients-")
    return "?"


def code_version() -> str:
    """The commit measured, and whether the working tree differed from it."""
    rev = _run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    changed = _run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"])
    n = len([line for line in changed.splitlines() if line.strip()]) if changed != "?" else 0
    return f"commit {rev}" + (f" with {n} modified tracked files" if n else "")


def source_hash() -> str:
    """A short hash of the service's Python sources as they are now."""
    import hashlib

    digest = hashlib.blake2b(digest_size=6)
    for path in sorted([*ROOT.glob("stream/**/*.py"), *ROOT.glob("schemas/**/*.py")]):
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def machine_facts() -> dict[str, str]:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for dist in ("faust-streaming", "aiokafka", "pydantic", "orjson", "rocksdict", "prometheus-client"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = "?"
    return {
        "nproc": _run(["nproc"]),
        "free": _run(["free", "-m"]),
        "cpu": cpu,
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "kafka": kafka_version(),
        "versions": ", ".join(f"{k} {v}" for k, v in versions.items()),
        "loadavg": loadavg(),
    }


class Stopwatch:
    def __init__(self) -> None:
        self.start = time.perf_counter()

    def __call__(self) -> float:
        return time.perf_counter() - self.start
