"""How the report writes its numbers, the same in HTML and Markdown."""

from __future__ import annotations

from datetime import datetime, timezone

DASH = "–"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return DASH
    if seconds < 60:
        return f"{seconds:.0f}s"
    whole = int(round(seconds))
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    if whole < 86_400:
        return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
    return f"{whole // 86_400}d{whole % 86_400 // 3600:02d}h"


def percent(ratio: float | None) -> str:
    return DASH if ratio is None else f"{100 * ratio:.1f}%"


def number(value: float | None, digits: int = 2) -> str:
    return DASH if value is None else f"{value:,.{digits}f}"


def count(value: int | float | None) -> str:
    if value is None:
        return DASH
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def signed(value: float | None, kind: str) -> str:
    """A week-over-week change: ``count``, ``number``, ``points`` (of a ratio) or ``duration``."""
    if value is None:
        return DASH
    sign = "+" if value > 0 else "−" if value < 0 else "±"
    size = abs(value)
    if kind == "points":
        return f"{sign}{100 * size:.1f} pts"
    if kind == "duration":
        return f"{sign}{duration(size)}"
    if kind == "number":
        return f"{sign}{number(size)}"
    return f"{sign}{count(size)}"


def instant(at: float) -> str:
    return datetime.fromtimestamp(at, tz=timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def breaches(counts: dict[str, dict[str, int]], breach_type: str, stage: str) -> int:
    return counts.get(breach_type, {}).get(stage, 0)
