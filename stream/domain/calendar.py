"""Business calendars (placeholder: the full module replaces this)."""

import re

_RANGE = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")


def parse_working_hours(text: str) -> tuple[tuple[int, int], ...]:
    """``"08:00-12:00,13:00-16:00"`` -> ((28800, 43200), (46800, 57600)): seconds after local midnight."""
    ranges = []
    for part in text.split(","):
        m = _RANGE.match(part.strip())
        if not m:
            raise ValueError(f"working hours must look like 09:00-17:00[,HH:MM-HH:MM], got {text!r}")
        h1, m1, h2, m2 = map(int, m.groups())
        start, end = h1 * 3600 + m1 * 60, h2 * 3600 + m2 * 60
        if not (0 <= start < end <= 86400) or m1 > 59 or m2 > 59:
            raise ValueError(f"invalid range {part.strip()!r} in {text!r}")
        ranges.append((start, end))
    ranges.sort()
    for (_, e1), (s2, _) in zip(ranges, ranges[1:]):
        if s2 < e1:
            raise ValueError(f"overlapping ranges in {text!r}")
    return tuple(ranges)
