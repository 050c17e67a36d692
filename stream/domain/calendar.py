"""Business calendars: when a rep is at work, and how much working time lies
between two instants (modelled on Salesforce's ``BusinessHours``).

Time rules, all of them exact:

* Every argument is a timezone-aware ``datetime`` in any offset; only the
  instant matters. Every ``datetime`` returned is in UTC (convert it with
  ``calendar.zone`` for display). Naive datetimes are refused (ValueError).
* An instant is *open* when its wall-clock reading in the calendar's IANA time
  zone falls on a working weekday that is neither a public holiday of
  ``holidays_country`` nor an extra closed date, its local time of day lies in
  one of the working ranges (start included, end excluded), and it is not
  inside an out-of-office period.
* Seconds are physical (elapsed SI seconds between instants), never wall-clock
  differences. So a ``00:00-24:00`` day lasts 23 real hours on a spring-forward
  day and 25 on a fall-back day; a range whose wall-clock start falls in a
  spring-forward gap opens at the first instant that exists after the gap; a
  wall-clock time that happens twice (the repeated fall-back hour) is open both
  times.
* Out-of-office periods are instants (start included, end excluded) and are
  subtracted from open time; they do not move working hours.

The module is pure: it never reads the clock and imports nothing from the
service or Kafka layers. The ``holidays`` library is imported lazily and its
per-(country, year) answers are cached, as are the time zones' UTC offsets.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone as dt_timezone
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_RANGE = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_US = 1_000_000  # microseconds per second: instants are handled as integer µs since the epoch
_DAY_US = 86_400 * _US
_ONE_US = timedelta(microseconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=dt_timezone.utc)
_MAX_US = (datetime(9999, 12, 31, tzinfo=dt_timezone.utc) - _EPOCH) // timedelta(microseconds=1)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()  # a Thursday: weekday(n) = (n + 3) % 7
# add()/next_open() give up when this much time passes without any open time.
HORIZON_YEARS = 10
_HORIZON_US = HORIZON_YEARS * 366 * _DAY_US
# UTC offsets are looked up per block and sampled every _STEP_S seconds;
# a change between two samples is located to the second by bisection.
_BLOCK_S = 128 * 86_400
_BLOCK_US = _BLOCK_S * _US
_STEP_S = 6 * 3600


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


def format_working_hours(ranges: Iterable[tuple[int, int]]) -> str:
    """The inverse of :func:`parse_working_hours` (seconds are dropped)."""
    return ",".join(f"{s // 3600:02d}:{s % 3600 // 60:02d}-{e // 3600:02d}:{e % 3600 // 60:02d}" for s, e in ranges)


# --------------------------------------------------------------------------- caches


@lru_cache(maxsize=256)
def _zone(key: str) -> ZoneInfo:
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"timezone: unknown IANA time zone {key!r}") from None


def _offset_us(tz: ZoneInfo, second: int) -> int:
    """The UTC offset (µs) in ``tz`` at ``second`` seconds after the epoch."""
    try:
        local = (_EPOCH + timedelta(seconds=second)).astimezone(tz)
    except OverflowError:
        raise ValueError("instant outside the supported date range (years 1-9999)") from None
    return local.utcoffset() // _ONE_US


@lru_cache(maxsize=8192)
def _offset_block(key: str, block: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The pieces of constant UTC offset in a block of ``_BLOCK_S`` seconds:
    their starts (UTC µs, the first is the block start) and offsets (µs)."""
    tz = _zone(key)
    lo_s, hi_s = block * _BLOCK_S, (block + 1) * _BLOCK_S
    starts, offsets = [lo_s * _US], [_offset_us(tz, lo_s)]
    prev_s, prev_off = lo_s, offsets[0]
    sample = lo_s
    while sample < hi_s - 1:
        sample = min(sample + _STEP_S, hi_s - 1)
        off = _offset_us(tz, sample)
        if off != prev_off:
            lo, hi = prev_s, sample  # offset(lo) == prev_off, offset(hi) == off
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if _offset_us(tz, mid) == prev_off:
                    lo = mid
                else:
                    hi = mid
            starts.append(hi * _US)
            offsets.append(off)
        prev_s, prev_off = sample, off
    return tuple(starts), tuple(offsets)


def _segment(key: str, t: int) -> tuple[int, int]:
    """(end, offset) of the constant-offset piece holding instant ``t`` (UTC µs)."""
    block = t // _BLOCK_US
    starts, offsets = _offset_block(key, block)
    i = bisect_right(starts, t) - 1
    end = starts[i + 1] if i + 1 < len(starts) else (block + 1) * _BLOCK_US
    return end, offsets[i]


@lru_cache(maxsize=128)
def _country_known(country: str) -> bool:
    import holidays

    try:
        holidays.country_holidays(country)
    except NotImplementedError:
        return False
    return True


@lru_cache(maxsize=4096)
def _public_holidays(country: str, year: int) -> frozenset[date]:
    """Public holidays (observed days included) of ``country`` in ``year``."""
    import holidays

    return frozenset(holidays.country_holidays(country, years=year))


def _to_us(at: datetime, name: str = "instant") -> int:
    if not isinstance(at, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(at).__name__}")
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {at.isoformat()}")
    return (at - _EPOCH) // _ONE_US


def _from_us(t: int) -> datetime:
    try:
        return _EPOCH + timedelta(microseconds=t)
    except OverflowError:
        raise ValueError("instant outside the supported date range (years 1-9999)") from None


def _no_open_time(start: int) -> ValueError:
    return ValueError(
        f"calendar has no open time within {HORIZON_YEARS} years after {_from_us(start).isoformat()}"
    )


# --------------------------------------------------------------------------- calendar


@dataclass(frozen=True)
class BusinessCalendar:
    """A working-time calendar in one IANA time zone (see the module docstring
    for the time rules).

    Fields:
      ``timezone``         IANA name, e.g. ``"America/New_York"``.
      ``working_hours``    sorted, non-overlapping (start, end) seconds after local
                           midnight, ``0 <= start < end <= 86400``.
      ``working_days``     weekdays as ints, 0 = Monday ... 6 = Sunday.
      ``holidays_country`` country code for the ``holidays`` library, or None.
      ``closed_dates``     extra local dates with no working time.
      ``out_of_office``    (start, end) aware datetimes, start included, end excluded.

    Build one from policy-style values with :meth:`build`.
    """

    timezone: str = "UTC"
    working_hours: tuple[tuple[int, int], ...] = ((0, 86400),)
    working_days: frozenset[int] = frozenset(range(7))
    holidays_country: str | None = None
    closed_dates: frozenset[date] = frozenset()
    out_of_office: tuple[tuple[datetime, datetime], ...] = ()

    _ranges_us: tuple[tuple[int, int], ...] = field(init=False, repr=False, compare=False)
    _closed_days: frozenset[int] = field(init=False, repr=False, compare=False)
    _ooo: tuple[tuple[int, int], ...] = field(init=False, repr=False, compare=False)
    _ooo_ends: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _always_open: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _zone(self.timezone)
        hours = tuple((int(s), int(e)) for s, e in self.working_hours)
        if not hours:
            raise ValueError("working_hours: at least one range is needed")
        for s, e in hours:
            if not 0 <= s < e <= 86400:
                raise ValueError(f"working_hours: invalid range ({s}, {e}) seconds after midnight")
        for (_, e1), (s2, _) in zip(hours, hours[1:]):
            if s2 < e1:
                raise ValueError("working_hours: ranges must be sorted and must not overlap")
        days = frozenset(self.working_days)
        if not all(isinstance(d, int) and 0 <= d <= 6 for d in days):
            raise ValueError("working_days: weekdays are ints 0 (Monday) to 6 (Sunday)")
        country = self.holidays_country or None
        if country is not None and not _country_known(country):
            raise ValueError(f"holidays_country: no public holidays known for country {country!r}")
        closed = frozenset(self.closed_dates)
        for d in closed:
            if isinstance(d, datetime) or not isinstance(d, date):
                raise ValueError(f"holidays: closed dates must be dates (YYYY-MM-DD), got {d!r}")
        periods = []
        for i, (s, e) in enumerate(self.out_of_office):
            s_us, e_us = _to_us(s, f"out_of_office[{i}].start"), _to_us(e, f"out_of_office[{i}].end")
            if e_us <= s_us:
                raise ValueError(f"out_of_office[{i}]: end must be after start")
            periods.append((s_us, e_us))
        periods.sort()
        merged: list[tuple[int, int]] = []
        for s_us, e_us in periods:
            if merged and s_us <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], e_us))
            else:
                merged.append((s_us, e_us))

        set_ = object.__setattr__  # frozen: normalise the fields once, here
        set_(self, "working_hours", hours)
        set_(self, "working_days", days)
        set_(self, "holidays_country", country)
        set_(self, "closed_dates", closed)
        set_(self, "out_of_office", tuple(sorted((_from_us(s), _from_us(e)) for s, e in periods)))
        set_(self, "_ranges_us", tuple((s * _US, e * _US) for s, e in hours))
        set_(self, "_closed_days", frozenset(d.toordinal() - _EPOCH_ORDINAL for d in closed))
        set_(self, "_ooo", tuple(merged))
        set_(self, "_ooo_ends", tuple(e for _, e in merged))
        set_(
            self,
            "_always_open",
            hours == ((0, 86400),) and len(days) == 7 and country is None and not closed and not merged,
        )

    @classmethod
    def build(
        cls,
        timezone: str,
        working_hours: str,
        working_days: Iterable[str],
        holidays_country: str | None = None,
        holidays: Iterable[date | str] = (),
        out_of_office: Iterable[object] = (),
    ) -> BusinessCalendar:
        """A calendar from policy-style values (the keys of ``[calendar]``).

        ``working_hours`` like ``"08:00-12:00,13:00-16:00"`` (``"00:00-24:00"`` = whole
        day); ``working_days`` names ``"mon"``..``"sun"``; ``holidays_country`` a
        ``holidays`` country code, None or ``""`` for none; ``holidays`` extra
        closed dates (``date`` or ``"YYYY-MM-DD"``); ``out_of_office`` items are
        ``(start, end)`` pairs or objects with ``.start``/``.end`` (aware datetimes).
        Errors are ValueError and start with the key, e.g. ``"timezone: ..."``.
        """
        try:
            ranges = parse_working_hours(working_hours)
        except (ValueError, AttributeError) as exc:
            raise ValueError(f"working_hours: {exc}") from None
        days = set()
        for name in working_days:
            if name not in WEEKDAYS:
                raise ValueError(f"working_days: unknown weekday {name!r} (use {', '.join(WEEKDAYS)})")
            days.add(WEEKDAYS.index(name))
        closed = set()
        for d in holidays:
            if isinstance(d, str):
                try:
                    d = date.fromisoformat(d)
                except ValueError:
                    raise ValueError(f"holidays: not a date (YYYY-MM-DD): {d!r}") from None
            closed.add(d)
        periods = []
        for i, item in enumerate(out_of_office):
            if hasattr(item, "start") and hasattr(item, "end"):
                periods.append((item.start, item.end))
            else:
                try:
                    start, end = item  # type: ignore[misc]
                except (TypeError, ValueError):
                    raise ValueError(f"out_of_office[{i}]: expected (start, end), got {item!r}") from None
                periods.append((start, end))
        return cls(
            timezone=timezone,
            working_hours=ranges,
            working_days=frozenset(days),
            holidays_country=holidays_country or None,
            closed_dates=frozenset(closed),
            out_of_office=tuple(periods),
        )

    # ------------------------------------------------------------------ queries

    @property
    def zone(self) -> ZoneInfo:
        """The calendar's time zone."""
        return _zone(self.timezone)

    def to_local(self, at: datetime) -> datetime:
        """``at`` on the calendar's wall clock (same instant)."""
        return at.astimezone(self.zone)

    def describe(self) -> str:
        """One line for people: zone, days, hours, holidays, closures."""
        days = ",".join(WEEKDAYS[d] for d in sorted(self.working_days)) or "no working days"
        parts = [self.timezone, f"{days} {format_working_hours(self.working_hours)}"]
        parts.append(f"public holidays {self.holidays_country}" if self.holidays_country else "no public holidays")
        if self.closed_dates:
            parts.append(f"{len(self.closed_dates)} extra closed date(s)")
        if self.out_of_office:
            parts.append(f"{len(self.out_of_office)} out-of-office period(s)")
        return "; ".join(parts)

    def is_within(self, at: datetime) -> bool:
        """True when ``at`` is open working time (range starts are open, ends are not)."""
        t = _to_us(at)
        if self._always_open:
            return True
        if self._ooo:
            i = bisect_right(self._ooo_ends, t)
            if i < len(self._ooo) and self._ooo[i][0] <= t:
                return False
        _, off = _segment(self.timezone, t)
        wall = t + off
        n = wall // _DAY_US
        if (n + 3) % 7 not in self.working_days:
            return False
        of_day = wall - n * _DAY_US
        if not any(s <= of_day < e for s, e in self._ranges_us):
            return False
        return not self._closed(n)

    def next_open(self, at: datetime) -> datetime:
        """The first open instant at or after ``at`` (UTC); ``at`` itself when open.

        Raises ValueError when there is no open time within ``HORIZON_YEARS`` years.
        """
        t = _to_us(at)
        if self._always_open:
            return _from_us(t)
        for a, _ in self._open(t):
            return _from_us(a)
        raise _no_open_time(t)  # pragma: no cover - _open raises first

    def add(self, start: datetime, seconds: float) -> datetime:
        """The earliest instant (UTC) at which ``seconds`` of open time have
        elapsed since ``start``.

        ``seconds`` are real elapsed seconds, resolved to the microsecond.
        ``add(start, 0)`` is ``next_open(start)`` (``start`` itself when open).
        For ``seconds > 0`` the result is open, or is the very end of an open
        stretch (a deadline that uses up the last seconds before 17:00 is due at
        17:00, not at the next opening). Raises ValueError for negative or
        non-finite ``seconds`` and when the calendar has no open time within
        ``HORIZON_YEARS`` years.
        """
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"seconds must be a finite number >= 0, got {seconds!r}")
        t = _to_us(start, "start")
        need = round(seconds * _US)
        if t + need > _MAX_US:  # the answer is at least start + seconds
            raise ValueError(f"start + {seconds!r} seconds is beyond the supported date range (year 9999)")
        if self._always_open:
            return _from_us(t + need)
        if need == 0:
            return self.next_open(start)
        for a, b in self._open(t):
            if need <= b - a:
                return _from_us(a + need)
            need -= b - a
        raise _no_open_time(t)  # pragma: no cover - _open raises first

    def diff(self, start: datetime, end: datetime) -> float:
        """Open seconds (real, microsecond resolution) between ``start`` and
        ``end``; 0 when ``end <= start``."""
        t0, t1 = _to_us(start, "start"), _to_us(end, "end")
        if t1 <= t0:
            return 0.0
        if self._always_open:
            return (t1 - t0) / _US
        return sum(b - a for a, b in self._open(t0, t1)) / _US

    def open_intervals(self, start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
        """The open stretches between ``start`` and ``end`` as (a, b) UTC datetimes,
        clipped to [start, end), in order, touching stretches merged (a
        ``00:00-24:00`` calendar over a weekend yields one stretch)."""
        t0, t1 = _to_us(start, "start"), _to_us(end, "end")
        if t1 <= t0:
            return
        if self._always_open:
            yield _from_us(t0), _from_us(t1)
            return
        pending: tuple[int, int] | None = None
        for a, b in self._open(t0, t1):
            if pending is not None and a <= pending[1]:
                pending = (pending[0], max(pending[1], b))
                continue
            if pending is not None:
                yield _from_us(pending[0]), _from_us(pending[1])
            pending = (a, b)
        if pending is not None:
            yield _from_us(pending[0]), _from_us(pending[1])

    # ------------------------------------------------------------------ internals

    def _closed(self, n: int) -> bool:
        """Is local day ``n`` (days since 1970-01-01) a holiday or closed date?"""
        if n in self._closed_days:
            return True
        if self.holidays_country is None:
            return False
        d = date.fromordinal(n + _EPOCH_ORDINAL)
        return d in _public_holidays(self.holidays_country, d.year)

    def _open(self, t: int, stop: int | None = None) -> Iterator[tuple[int, int]]:
        """Open (a, b) UTC-µs intervals from ``t`` (to ``stop``, or unbounded),
        in order, out-of-office removed; may yield touching intervals.

        Unbounded, it raises ValueError after ``HORIZON_YEARS`` without open time.
        """
        if not self._ooo:
            yield from self._working(t, stop)
            return
        ooo, ends = self._ooo, self._ooo_ends
        last = t
        for a, b in self._working(t, stop):
            i = bisect_right(ends, a)  # first period ending after a
            while a < b:
                if i < len(ooo) and ooo[i][0] < b:
                    s, e = ooo[i]
                    if s > a:
                        last = s
                        yield a, s
                    a = e if e > a else a
                    i += 1
                else:
                    last = b
                    yield a, b
                    break
            if stop is None and b - last > _HORIZON_US:
                raise _no_open_time(t)

    def _working(self, t: int, stop: int | None) -> Iterator[tuple[int, int]]:
        """Working-hour (a, b) UTC-µs intervals from ``t``, before out-of-office.

        The UTC line is cut into pieces of constant offset; inside one, local
        wall time is UTC + offset, so each day's ranges map back by subtracting
        the offset and clipping to the piece. Gaps and repeats come out right.
        """
        if stop is None and not self.working_days:
            raise ValueError("calendar has no working days: there is no open time at all")
        ranges, days, key = self._ranges_us, self.working_days, self.timezone
        first = last = t
        while stop is None or t < stop:
            seg_end, off = _segment(key, t)
            hi = seg_end if stop is None or seg_end < stop else stop
            w0, w1 = t + off, hi + off
            n = w0 // _DAY_US
            base = n * _DAY_US
            while base < w1:
                if (n + 3) % 7 in days and not self._closed(n):
                    for s, e in ranges:
                        a, b = base + s, base + e
                        if a < w0:
                            a = w0
                        if b > w1:
                            b = w1
                        if a < b:
                            last = b - off
                            yield a - off, b - off
                elif stop is None and base - off - last > _HORIZON_US:
                    raise _no_open_time(first)
                n += 1
                base += _DAY_US
            t = hi


ALWAYS_OPEN = BusinessCalendar()
"""24/7 in UTC with no holidays: business time equals plain elapsed time."""
