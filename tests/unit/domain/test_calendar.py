"""Business calendars: table-driven edge cases (weekends, holidays, lunch
breaks, DST in New York and Berlin, out-of-office) and properties, checked
against an independent minute-by-minute walk on zoneinfo's wall clock."""

from __future__ import annotations

import functools
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import holidays as holidays_lib
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stream.domain.calendar import ALWAYS_OPEN, BusinessCalendar, parse_working_hours

UTC = timezone.utc
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]
ALL_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


def cal(
    tz: str = "America/New_York",
    hours: str = "09:00-17:00",
    days: list[str] = WEEKDAYS,
    country: str | None = "US",
    closed: tuple[str, ...] = (),
    ooo: tuple[tuple[str, str], ...] = (),
) -> BusinessCalendar:
    return BusinessCalendar.build(
        tz, hours, days, country, [date.fromisoformat(d) for d in closed], [(ts(a), ts(b)) for a, b in ooo]
    )


NEW_YORK = cal()
BERLIN = cal("Europe/Berlin", country="DE")
LUNCH = cal(hours="08:00-12:00,13:00-16:00")
NY_24H = cal(hours="00:00-24:00", days=ALL_DAYS, country=None)
BERLIN_24H = cal("Europe/Berlin", hours="00:00-24:00", days=ALL_DAYS, country=None)
NY_EARLY_SUNDAY = cal(hours="02:30-05:00", days=["sun"], country=None)
NY_REPEATED = cal(hours="01:00-01:30", days=["sun"], country=None)
OUT_OF_OFFICE = cal(ooo=(("2026-11-23T00:00:00-05:00", "2026-11-25T12:00:00-05:00"),))
CLOSED_MONDAY = cal(closed=("2026-11-23",))


# ----------------------------------------------------------------- independent oracle


def brute_add(calendar: BusinessCalendar, start: datetime, seconds: int) -> datetime:
    """Walk minute by minute on zoneinfo's wall clock; start and seconds are whole minutes."""
    assert seconds % 60 == 0 and start.second == 0 and start.microsecond == 0
    zone = ZoneInfo(calendar.timezone)
    ranges = parse_working_hours(calendar_hours[calendar])
    t = start.astimezone(UTC)
    need = seconds // 60
    if need == 0:
        while not minute_open(calendar, zone, ranges, t):
            t += timedelta(minutes=1)
        return t
    while True:
        if minute_open(calendar, zone, ranges, t):
            need -= 1
            if need == 0:
                return t + timedelta(minutes=1)
        t += timedelta(minutes=1)


@functools.cache
def public_holidays(country: str, year: int) -> set[date]:
    return set(holidays_lib.country_holidays(country, years=year))


def minute_open(calendar: BusinessCalendar, zone: ZoneInfo, ranges, t: datetime) -> bool:
    wall = t.astimezone(zone)
    if wall.weekday() not in calendar.working_days or wall.date() in calendar.closed_dates:
        return False
    if calendar.holidays_country and wall.date() in public_holidays(calendar.holidays_country, wall.year):
        return False
    of_day = wall.hour * 3600 + wall.minute * 60
    if not any(s <= of_day < e for s, e in ranges):
        return False
    return not any(a <= t < b for a, b in calendar.out_of_office)


calendar_hours: dict[BusinessCalendar, str] = {}


def oracle_cal(tz, hours, days, country=None, closed=(), ooo=()) -> BusinessCalendar:
    calendar = cal(tz, hours, days, country, closed, ooo)
    calendar_hours[calendar] = hours
    return calendar


ORACLE_CALENDARS = [
    oracle_cal("America/New_York", "09:00-17:00", WEEKDAYS, "US"),
    oracle_cal("Europe/Berlin", "08:00-12:00,13:00-16:00", WEEKDAYS, "DE", closed=("2026-03-30",)),
    oracle_cal("America/New_York", "00:00-24:00", ["sat", "sun"]),
    oracle_cal("America/New_York", "01:00-02:30,23:00-24:00", ALL_DAYS),
    oracle_cal("Europe/Berlin", "02:15-03:45", ALL_DAYS),
    oracle_cal("Australia/Lord_Howe", "00:00-24:00", ["sun"]),  # 30-minute DST shift
    oracle_cal("America/Santiago", "00:00-09:00", ALL_DAYS),  # DST changes at midnight
    oracle_cal(
        "Asia/Kolkata",
        "10:00-18:00",
        WEEKDAYS,
        ooo=(("2026-03-02T12:00:00+05:30", "2026-03-04T10:30:00+05:30"),),
    ),
]


# ----------------------------------------------------------------- table: add()

ADD_CASES = [
    # id, calendar, start, seconds, expected due (in the rep's offset)
    ("friday evening -> monday", NEW_YORK, "2026-11-20T17:30:00-05:00", 300, "2026-11-23T09:05:00-05:00"),
    ("input in UTC", NEW_YORK, "2026-11-20T22:30:00Z", 300, "2026-11-23T09:05:00-05:00"),
    ("inside hours", NEW_YORK, "2026-11-18T10:00:00-05:00", 300, "2026-11-18T10:05:00-05:00"),
    ("before opening", NEW_YORK, "2026-11-18T07:00:00-05:00", 300, "2026-11-18T09:05:00-05:00"),
    ("last minutes then resume", NEW_YORK, "2026-11-18T16:58:00-05:00", 300, "2026-11-19T09:03:00-05:00"),
    ("ends exactly at closing", NEW_YORK, "2026-11-18T16:55:00-05:00", 300, "2026-11-18T17:00:00-05:00"),
    ("thanksgiving skipped", NEW_YORK, "2026-11-25T16:58:00-05:00", 300, "2026-11-27T09:03:00-05:00"),
    ("lunch break", LUNCH, "2026-11-18T11:58:00-05:00", 300, "2026-11-18T13:03:00-05:00"),
    ("during lunch", LUNCH, "2026-11-18T12:20:00-05:00", 300, "2026-11-18T13:05:00-05:00"),
    ("out of office", OUT_OF_OFFICE, "2026-11-20T17:30:00-05:00", 300, "2026-11-25T12:05:00-05:00"),
    ("extra closed date", CLOSED_MONDAY, "2026-11-20T17:30:00-05:00", 300, "2026-11-24T09:05:00-05:00"),
    ("several days", NEW_YORK, "2026-11-16T09:00:00-05:00", 3 * 8 * 3600, "2026-11-18T17:00:00-05:00"),
    ("several days over a holiday", NEW_YORK, "2026-11-24T09:00:00-05:00", 20 * 3600, "2026-11-27T13:00:00-05:00"),
    ("NY weekend before spring forward", NEW_YORK, "2026-03-06T16:58:00-05:00", 300, "2026-03-09T09:03:00-04:00"),
    ("NY weekend after fall back", NEW_YORK, "2026-10-30T16:58:00-04:00", 300, "2026-11-02T09:03:00-05:00"),
    ("Berlin weekend before spring", BERLIN, "2026-03-27T16:58:00+01:00", 300, "2026-03-30T09:03:00+02:00"),
    ("Berlin weekend after fall back", BERLIN, "2026-10-23T16:58:00+02:00", 300, "2026-10-26T09:03:00+01:00"),
    ("Berlin Christmas", BERLIN, "2026-12-24T16:58:00+01:00", 300, "2026-12-28T09:03:00+01:00"),
    ("NY 24h spring day is 23h", NY_24H, "2026-03-08T00:00:00-05:00", 86400, "2026-03-09T01:00:00-04:00"),
    ("NY 24h fall day is 25h", NY_24H, "2026-11-01T00:00:00-04:00", 86400, "2026-11-01T23:00:00-05:00"),
    ("Berlin 24h spring day", BERLIN_24H, "2026-03-29T00:00:00+01:00", 86400, "2026-03-30T01:00:00+02:00"),
    ("Berlin 24h fall day", BERLIN_24H, "2026-10-25T00:00:00+02:00", 86400, "2026-10-25T23:00:00+01:00"),
    ("start in the spring gap", NY_EARLY_SUNDAY, "2026-03-08T00:00:00-05:00", 60, "2026-03-08T03:01:00-04:00"),
    ("repeated hour counts twice", NY_REPEATED, "2026-11-01T01:20:00-04:00", 900, "2026-11-01T01:05:00-05:00"),
]


def table(cases):
    """pytest parameters from rows whose first item is the test id."""
    return [pytest.param(*row[1:], id=row[0]) for row in cases]


@pytest.mark.parametrize(("calendar", "start", "seconds", "expected"), table(ADD_CASES))
def test_add_gives_the_due_instant(calendar, start, seconds, expected):
    due = calendar.add(ts(start), seconds)
    assert due == ts(expected)
    assert due.tzinfo is UTC
    assert calendar.to_local(due).isoformat() == expected
    assert calendar.diff(ts(start), due) == pytest.approx(seconds, abs=1e-6)


# ----------------------------------------------------------------- table: diff()

DIFF_CASES = [
    ("NY spring-forward day", NY_24H, "2026-03-08T00:00:00-05:00", "2026-03-09T00:00:00-04:00", 23 * 3600),
    ("NY fall-back day", NY_24H, "2026-11-01T00:00:00-04:00", "2026-11-02T00:00:00-05:00", 25 * 3600),
    ("Berlin spring-forward day", BERLIN_24H, "2026-03-29T00:00:00+01:00", "2026-03-30T00:00:00+02:00", 23 * 3600),
    ("Berlin fall-back day", BERLIN_24H, "2026-10-25T00:00:00+02:00", "2026-10-26T00:00:00+01:00", 25 * 3600),
    ("range starting in the gap", NY_EARLY_SUNDAY, "2026-03-08T00:00:00-05:00", "2026-03-09T00:00:00-04:00", 2 * 3600),
    ("same range, ordinary sunday", NY_EARLY_SUNDAY, "2026-03-15T00:00:00-04:00", "2026-03-16T00:00:00-04:00", 9000),
    ("repeated wall-clock half hour", NY_REPEATED, "2026-11-01T00:00:00-04:00", "2026-11-02T00:00:00-05:00", 3600),
    ("a week of 9-17", NEW_YORK, "2026-11-16T00:00:00-05:00", "2026-11-23T00:00:00-05:00", 5 * 8 * 3600),
    ("thanksgiving week", NEW_YORK, "2026-11-23T00:00:00-05:00", "2026-11-30T00:00:00-05:00", 4 * 8 * 3600),
    ("lunch day", LUNCH, "2026-11-18T00:00:00-05:00", "2026-11-19T00:00:00-05:00", 7 * 3600),
    ("out of office part", OUT_OF_OFFICE, "2026-11-23T00:00:00-05:00", "2026-11-26T00:00:00-05:00", 5 * 3600),
    ("end before start", NEW_YORK, "2026-11-18T12:00:00-05:00", "2026-11-18T11:00:00-05:00", 0),
    ("weekend only", NEW_YORK, "2026-11-21T00:00:00-05:00", "2026-11-23T00:00:00-05:00", 0),
    ("across UTC offsets", NEW_YORK, "2026-11-18T14:00:00Z", "2026-11-18T16:00:00+01:00", 3600),
]


@pytest.mark.parametrize(("calendar", "start", "end", "expected"), table(DIFF_CASES))
def test_diff_counts_real_open_seconds(calendar, start, end, expected):
    assert calendar.diff(ts(start), ts(end)) == pytest.approx(expected, abs=1e-6)


# ----------------------------------------------------------------- table: is_within / next_open

WITHIN_CASES = [
    ("opening instant is open", NEW_YORK, "2026-11-18T09:00:00-05:00", True, "2026-11-18T09:00:00-05:00"),
    ("closing instant is closed", NEW_YORK, "2026-11-18T17:00:00-05:00", False, "2026-11-19T09:00:00-05:00"),
    ("saturday", NEW_YORK, "2026-11-21T12:00:00-05:00", False, "2026-11-23T09:00:00-05:00"),
    ("thanksgiving", NEW_YORK, "2026-11-26T12:00:00-05:00", False, "2026-11-27T09:00:00-05:00"),
    ("lunch", LUNCH, "2026-11-18T12:30:00-05:00", False, "2026-11-18T13:00:00-05:00"),
    ("out of office", OUT_OF_OFFICE, "2026-11-24T10:00:00-05:00", False, "2026-11-25T12:00:00-05:00"),
    ("out-of-office end is open", OUT_OF_OFFICE, "2026-11-25T12:00:00-05:00", True, "2026-11-25T12:00:00-05:00"),
    ("gap: opens at 03:00 EDT", NY_EARLY_SUNDAY, "2026-03-08T01:59:00-05:00", False, "2026-03-08T03:00:00-04:00"),
    ("repeated 01:10, first time", NY_REPEATED, "2026-11-01T01:10:00-04:00", True, "2026-11-01T01:10:00-04:00"),
    ("repeated 01:10, second time", NY_REPEATED, "2026-11-01T01:10:00-05:00", True, "2026-11-01T01:10:00-05:00"),
    ("between the repeats", NY_REPEATED, "2026-11-01T01:45:00-04:00", False, "2026-11-01T01:00:00-05:00"),
    ("UTC input", NEW_YORK, "2026-11-18T14:00:00Z", True, "2026-11-18T14:00:00Z"),
]


@pytest.mark.parametrize(("calendar", "at", "open_", "next_"), table(WITHIN_CASES))
def test_is_within_and_next_open(calendar, at, open_, next_):
    assert calendar.is_within(ts(at)) is open_
    assert calendar.next_open(ts(at)) == ts(next_)


# ----------------------------------------------------------------- decisions and errors


def test_add_zero_is_next_open():
    assert NEW_YORK.add(ts("2026-11-18T10:00:00-05:00"), 0) == ts("2026-11-18T10:00:00-05:00")
    assert NEW_YORK.add(ts("2026-11-20T17:30:00-05:00"), 0) == ts("2026-11-23T09:00:00-05:00")


def test_open_intervals_merge_touching_days_and_clip():
    got = list(NY_24H.open_intervals(ts("2026-11-20T12:00:00Z"), ts("2026-11-23T12:00:00Z")))
    assert got == [(ts("2026-11-20T12:00:00Z"), ts("2026-11-23T12:00:00Z"))]
    got = list(LUNCH.open_intervals(ts("2026-11-18T10:00:00-05:00"), ts("2026-11-19T09:00:00-05:00")))
    assert got == [
        (ts("2026-11-18T10:00:00-05:00"), ts("2026-11-18T12:00:00-05:00")),
        (ts("2026-11-18T13:00:00-05:00"), ts("2026-11-18T16:00:00-05:00")),
        (ts("2026-11-19T08:00:00-05:00"), ts("2026-11-19T09:00:00-05:00")),
    ]
    assert all(a.tzinfo is UTC and b.tzinfo is UTC for a, b in got)
    assert list(NEW_YORK.open_intervals(ts("2026-11-21T00:00:00Z"), ts("2026-11-20T00:00:00Z"))) == []


def test_always_open_is_plain_time():
    start = ts("2026-11-21T03:00:00+09:00")
    assert ALWAYS_OPEN.add(start, 86400 * 3.5) == start + timedelta(days=3.5)
    assert ALWAYS_OPEN.diff(start, start + timedelta(hours=5)) == 5 * 3600
    assert ALWAYS_OPEN.is_within(start)
    assert ALWAYS_OPEN.next_open(start) == start


def test_microseconds_are_kept():
    start = ts("2026-11-18T16:59:59.250000-05:00")
    assert NEW_YORK.add(start, 1.5) == ts("2026-11-19T09:00:00.750000-05:00")
    assert NEW_YORK.diff(start, ts("2026-11-19T09:00:00.750000-05:00")) == pytest.approx(1.5, abs=1e-9)


def test_calendar_without_working_days_refuses_instead_of_spinning():
    never = BusinessCalendar.build("UTC", "09:00-17:00", [])
    with pytest.raises(ValueError, match="no working days"):
        never.add(ts("2026-11-18T10:00:00Z"), 60)
    with pytest.raises(ValueError, match="no working days"):
        never.next_open(ts("2026-11-18T10:00:00Z"))
    assert never.diff(ts("2026-11-18T10:00:00Z"), ts("2026-12-18T10:00:00Z")) == 0
    assert not never.is_within(ts("2026-11-18T10:00:00Z"))


def test_endless_out_of_office_hits_the_horizon():
    gone = cal(ooo=(("2026-01-01T00:00:00Z", "2040-01-01T00:00:00Z"),))
    with pytest.raises(ValueError, match="no open time within 10 years"):
        gone.add(ts("2026-11-18T10:00:00Z"), 60)
    back = cal(ooo=(("2026-01-01T00:00:00Z", "2030-01-01T00:00:00Z"),))
    assert back.next_open(ts("2026-11-18T10:00:00Z")) == ts("2030-01-02T09:00:00-05:00")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timezone": "Mars/Base"}, "timezone: unknown IANA time zone"),
        ({"working_hours": "9-17"}, "working_hours:"),
        ({"working_hours": "09:00-12:00,11:00-13:00"}, "working_hours: overlapping"),
        ({"working_days": ["monday"]}, "working_days: unknown weekday"),
        ({"holidays_country": "XX"}, "holidays_country: no public holidays known"),
        ({"holidays": ["2026-13-01"]}, "holidays: not a date"),
        ({"out_of_office": [(ts("2026-11-18T10:00:00Z"), ts("2026-11-18T09:00:00Z"))]}, r"out_of_office\[0\]: end"),
        ({"out_of_office": [(datetime(2026, 11, 18), datetime(2026, 11, 19))]}, "timezone-aware"),
    ],
)
def test_build_errors_name_the_key(kwargs, message):
    args = {"timezone": "UTC", "working_hours": "09:00-17:00", "working_days": WEEKDAYS} | kwargs
    with pytest.raises(ValueError, match=message):
        BusinessCalendar.build(**args)


def test_naive_and_negative_inputs_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        NEW_YORK.add(datetime(2026, 11, 18, 10), 60)
    with pytest.raises(ValueError, match="timezone-aware"):
        NEW_YORK.is_within(datetime(2026, 11, 18, 10))
    with pytest.raises(ValueError, match=">= 0"):
        NEW_YORK.add(ts("2026-11-18T10:00:00Z"), -1)
    with pytest.raises(ValueError, match=">= 0"):
        NEW_YORK.add(ts("2026-11-18T10:00:00Z"), float("nan"))


def test_parse_working_hours_is_unchanged():
    assert parse_working_hours("08:00-12:00,13:00-16:00") == ((28800, 43200), (46800, 57600))
    assert parse_working_hours("13:00-16:00, 08:00-12:00") == ((28800, 43200), (46800, 57600))
    assert parse_working_hours("00:00-24:00") == ((0, 86400),)
    for bad in ("9:00-17:00", "17:00-09:00", "08:00-12:00,11:00-13:00", "00:00-24:30", "08:61-09:00", ""):
        with pytest.raises(ValueError):
            parse_working_hours(bad)


def test_calendars_are_hashable_values():
    assert cal() == NEW_YORK and hash(cal()) == hash(NEW_YORK)
    assert "America/New_York" in NEW_YORK.describe() and "US" in NEW_YORK.describe()


# ----------------------------------------------------------------- the independent oracle


@pytest.mark.parametrize(
    ("start", "minutes"),
    [
        ("2026-03-06T20:00:00Z", 600),  # NY and Berlin spring forward weekends ahead
        ("2026-03-27T15:00:00Z", 900),
        ("2026-10-23T15:00:00Z", 900),
        ("2026-10-30T20:00:00Z", 600),
        ("2026-04-03T12:00:00Z", 1500),  # Santiago and Lord Howe fall back
        ("2026-09-04T12:00:00Z", 1500),  # Santiago spring forward at midnight
        ("2026-10-02T12:00:00Z", 1500),  # Lord Howe spring forward 30 minutes
        ("2026-03-01T12:00:00Z", 1200),  # Kolkata out of office
    ],
)
def test_add_matches_a_minute_by_minute_walk(start, minutes):
    for calendar in ORACLE_CALENDARS:
        assert calendar.add(ts(start), minutes * 60) == brute_add(calendar, ts(start), minutes * 60), calendar


# ----------------------------------------------------------------- properties

FIRST, LAST = int(ts("2026-01-01T00:00:00Z").timestamp()), int(ts("2027-12-31T00:00:00Z").timestamp())
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
instants = st.integers(FIRST * 1_000_000, LAST * 1_000_000).map(lambda us: EPOCH + timedelta(microseconds=us))
offsets = st.sampled_from([UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=5, minutes=30))])
seconds = st.floats(min_value=0, max_value=12 * 86400, allow_nan=False, allow_infinity=False)
calendars = st.sampled_from(ORACLE_CALENDARS + [NEW_YORK, LUNCH, OUT_OF_OFFICE, NY_EARLY_SUNDAY, NY_REPEATED])
PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPS
@given(calendars, instants, offsets, seconds)
def test_diff_undoes_add(calendar, start, offset, s):
    start = start.astimezone(offset)
    due = calendar.add(start, s)
    assert due >= start
    assert calendar.diff(start, due) == pytest.approx(s, abs=1e-6)


@PROPS
@given(calendars, instants, seconds)
def test_add_never_lands_in_closed_time(calendar, start, s):
    due = calendar.add(start, s)
    if round(s * 1e6) == 0:
        assert due == calendar.next_open(start)
        assert calendar.is_within(due)
        assert calendar.diff(start, due) == 0
    else:
        # open, or the very end of an open stretch: the microsecond before is open
        assert calendar.is_within(due) or calendar.is_within(due - timedelta(microseconds=1))
        assert calendar.is_within(due - timedelta(microseconds=1))


@PROPS
@given(calendars, instants, instants, instants)
def test_diff_is_additive_over_a_split_point(calendar, a, b, c):
    a, b, c = sorted([a, b, c])
    assert calendar.diff(a, c) == pytest.approx(calendar.diff(a, b) + calendar.diff(b, c), abs=1e-6)


@PROPS
@given(calendars, instants, instants, seconds, seconds)
def test_add_is_monotone(calendar, start1, start2, s1, s2):
    start1, start2 = sorted([start1, start2])
    s1, s2 = sorted([s1, s2])
    assert calendar.add(start1, s1) <= calendar.add(start1, s2)
    assert calendar.add(start1, s1) <= calendar.add(start2, s1)


@PROPS
@given(calendars, instants)
def test_is_within_agrees_with_open_intervals(calendar, at):
    around = list(calendar.open_intervals(at - timedelta(days=3), at + timedelta(days=3)))
    assert calendar.is_within(at) == any(a <= at < b for a, b in around)
    for (_, b1), (a2, _) in zip(around, around[1:]):
        assert b1 < a2  # merged: stretches never touch
    nxt = calendar.next_open(at)
    assert nxt >= at and calendar.is_within(nxt)
    assert calendar.diff(at, nxt) == 0


whole_minutes = st.integers(FIRST // 60, LAST // 60).map(lambda m: EPOCH + timedelta(minutes=m))


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(ORACLE_CALENDARS), whole_minutes, st.integers(min_value=0, max_value=2 * 24 * 60))
def test_add_matches_the_walk_anywhere(calendar, start, minutes):
    assert calendar.add(start, minutes * 60) == brute_add(calendar, start, minutes * 60)
