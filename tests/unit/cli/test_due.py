"""``python -m stream due`` as a process: the last line is the due time in the
rep's offset, checked against a minute-by-minute walk written here from the
policy's own values (zoneinfo + holidays, no BusinessCalendar)."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import holidays as holidays_lib
import pytest

ROOT = Path(__file__).resolve().parents[3]
UTC = timezone.utc
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DEFAULT_CALENDAR = {
    "timezone": "America/New_York",
    "working_hours": "09:00-17:00",
    "working_days": ["mon", "tue", "wed", "thu", "fri"],
    "holidays_country": "US",
}


def run_due(*args: str, policy_env: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "SLA_POLICY_FILE"}
    if policy_env is not None:
        env["SLA_POLICY_FILE"] = policy_env
    return subprocess.run(
        [sys.executable, "-m", "stream", "due", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    return str(value)


def write_policy(path: Path, calendar: dict, reps: list[dict], response: dict | None = None) -> Path:
    lines = []
    if response:
        lines += ["[response]", *(f"{k} = {toml_value(v)}" for k, v in response.items()), ""]
    lines += ["[calendar]", *(f"{k} = {toml_value(v)}" for k, v in calendar.items()), ""]
    for rep in reps:
        lines += ["[[reps]]", *(f"{k} = {toml_value(v)}" for k, v in rep.items()), ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


# ----------------------------------------------------------------- independent oracle


@functools.cache
def public_holidays(country: str, year: int) -> set[date]:
    return set(holidays_lib.country_holidays(country, years=year))


def merged(calendar: dict, reps: list[dict], rep_id: str) -> dict:
    spec = DEFAULT_CALENDAR | {"holidays": [], "out_of_office": []} | calendar
    for rep in reps:
        if rep["rep_id"] == rep_id:
            spec = spec | {k: v for k, v in rep.items() if k != "rep_id"}
    return spec


def walk(spec: dict, start: datetime, seconds: int) -> datetime:
    """Count open minutes on the wall clock of ``spec['timezone']``."""
    zone = ZoneInfo(spec["timezone"])
    ranges = []
    for part in spec["working_hours"].split(","):
        a, b = part.split("-")
        ranges.append((int(a[:2]) * 60 + int(a[3:]), int(b[:2]) * 60 + int(b[3:])))
    days = {WEEKDAYS.index(d) for d in spec["working_days"]}
    closed = {date.fromisoformat(d) for d in spec["holidays"]}
    away = [(datetime.fromisoformat(p["start"]), datetime.fromisoformat(p["end"])) for p in spec["out_of_office"]]

    def is_open(t: datetime) -> bool:
        wall = t.astimezone(zone)
        if wall.weekday() not in days or wall.date() in closed:
            return False
        country = spec.get("holidays_country")
        if country and wall.date() in public_holidays(country, wall.year):
            return False
        minute = wall.hour * 60 + wall.minute
        return any(a <= minute < b for a, b in ranges) and not any(a <= t < b for a, b in away)

    t, need = start.astimezone(UTC), seconds // 60
    while True:
        if is_open(t):
            need -= 1
            if need == 0:
                return t + timedelta(minutes=1)
        t += timedelta(minutes=1)


# ----------------------------------------------------------------- table

CALENDAR = {**DEFAULT_CALENDAR}
REPS = [
    {"rep_id": "r-ny", "timezone": "America/New_York"},
    {"rep_id": "r-berlin", "timezone": "Europe/Berlin", "holidays_country": "DE"},
    {"rep_id": "r-lunch", "working_hours": "08:00-12:00,13:00-16:00"},
    {"rep_id": "r-24h", "working_hours": "00:00-24:00", "working_days": WEEKDAYS, "holidays_country": ""},
    {"rep_id": "r-berlin-24h", "timezone": "Europe/Berlin", "working_hours": "00:00-24:00", "working_days": WEEKDAYS},
    {
        "rep_id": "r-away",
        "holidays": ["2026-11-27"],
        "out_of_office": [{"start": "2026-11-23T00:00:00-05:00", "end": "2026-11-25T12:00:00-05:00"}],
    },
]

CASES = [
    # id, rep, start, seconds (None = the policy's deadline), expected last line
    ("friday evening", "r-ny", "2026-11-20T17:30:00-05:00", None, "2026-11-23T09:05:00-05:00"),
    ("start given in UTC", "r-ny", "2026-11-20T22:30:00Z", None, "2026-11-23T09:05:00-05:00"),
    ("unknown rep uses [calendar]", "r-nobody", "2026-11-20T22:30:00Z", None, "2026-11-23T09:05:00-05:00"),
    ("thanksgiving", "r-ny", "2026-11-25T16:58:00-05:00", None, "2026-11-27T09:03:00-05:00"),
    ("several days over thanksgiving", "r-ny", "2026-11-24T09:00:00-05:00", 72000, "2026-11-27T13:00:00-05:00"),
    ("lunch break", "r-lunch", "2026-11-18T11:58:00-05:00", 600, "2026-11-18T13:08:00-05:00"),
    ("NY fall back weekend", "r-ny", "2026-10-30T20:58:00Z", None, "2026-11-02T09:03:00-05:00"),
    ("NY spring forward weekend", "r-ny", "2026-03-06T21:58:00Z", None, "2026-03-09T09:03:00-04:00"),
    ("Berlin spring forward weekend", "r-berlin", "2026-03-27T15:58:00Z", None, "2026-03-30T09:03:00+02:00"),
    ("Berlin christmas", "r-berlin", "2026-12-24T16:58:00+01:00", None, "2026-12-28T09:03:00+01:00"),
    ("NY 24h over spring day", "r-24h", "2026-03-08T00:00:00-05:00", 86400, "2026-03-09T01:00:00-04:00"),
    ("NY 24h over fall day", "r-24h", "2026-11-01T00:00:00-04:00", 86400, "2026-11-01T23:00:00-05:00"),
    ("Berlin 24h over fall day", "r-berlin-24h", "2026-10-25T00:00:00+02:00", 86400, "2026-10-25T23:00:00+01:00"),
    ("out of office and closed date", "r-away", "2026-11-20T17:30:00-05:00", 18000 + 300, "2026-11-30T09:05:00-05:00"),
]


@pytest.mark.parametrize(("rep", "start", "seconds", "expected"), [pytest.param(*c[1:], id=c[0]) for c in CASES])
def test_due_prints_the_due_time_last(tmp_path, rep, start, seconds, expected):
    policy = write_policy(tmp_path / "policy.toml", CALENDAR, REPS)
    args = ["--start", start, "--rep", rep, "--policy", str(policy)]
    if seconds is not None:
        args += ["--seconds", str(seconds)]
    result = run_due(*args)
    assert result.returncode == 0, result.stderr
    last = result.stdout.strip().splitlines()[-1]
    assert last == expected
    oracle = walk(merged(CALENDAR, REPS, rep), datetime.fromisoformat(start), seconds or 300)
    assert datetime.fromisoformat(last) == oracle
    assert rep in result.stdout  # the explanation names the rep


def test_built_in_defaults_and_policy_from_env(tmp_path):
    result = run_due("--start", "2026-11-20T17:30:00-05:00", "--rep", "r-1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "2026-11-23T09:05:00-05:00"
    tokyo = {"timezone": "Asia/Tokyo", "holidays_country": "JP"}
    policy = write_policy(tmp_path / "p.toml", tokyo, [], response={"deadline_seconds": 600})
    result = run_due("--start", "2026-11-20T08:00:00Z", "--rep", "r-1", policy_env=str(policy))
    assert result.returncode == 0, result.stderr
    # Friday 17:00 in Tokyo; Monday 23 November is a Japanese holiday: 600 s from Tuesday 09:00
    assert result.stdout.splitlines()[-1] == "2026-11-24T09:10:00+09:00"


def test_plain_time_when_business_hours_are_off(tmp_path):
    policy = write_policy(tmp_path / "p.toml", CALENDAR, REPS, response={"business_hours": False})
    result = run_due("--start", "2026-11-21T03:00:00Z", "--rep", "r-berlin", "--policy", str(policy))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "2026-11-21T04:05:00+01:00"  # Saturday night, in Berlin's offset


@pytest.mark.parametrize(
    ("args", "policy_text", "needle"),
    [
        (["--start", "2026-11-20T17:30:00"], None, "--start"),  # no offset
        (["--start", "tomorrow"], None, "RFC 3339"),
        (["--start", "2026-13-40T17:30:00Z"], None, "--start"),
        (["--start", "2026-11-20T17:30:00Z", "--seconds", "-5"], None, "--seconds"),
        (["--start", "2026-11-20T17:30:00Z"], '[calendar]\ntimezone = "Mars/Base"\n', "calendar.timezone"),
        (["--start", "2026-11-20T17:30:00Z"], "[calendar]\nworking_hours = '9-5'\n", "calendar.working_hours"),
        (["--start", "2026-11-20T17:30:00Z"], "[calendar]\ntimezon = 'UTC'\n", "calendar.timezon"),
        (["--start", "2026-11-20T17:30:00Z"], "this is not toml", "not valid TOML"),
        (["--start", "2026-11-20T17:30:00Z"], "[calendar]\nworking_days = []\n", "no working days"),
    ],
)
def test_bad_input_exits_2_naming_the_problem(tmp_path, args, policy_text, needle):
    if policy_text is not None:
        (tmp_path / "p.toml").write_text(policy_text, encoding="utf-8")
        args = [*args, "--policy", str(tmp_path / "p.toml")]
    result = run_due(*args, "--rep", "r-1")
    assert result.returncode == 2
    assert needle in result.stderr
    assert result.stdout == ""


def test_missing_policy_file_exits_2(tmp_path):
    result = run_due("--start", "2026-11-20T17:30:00Z", "--rep", "r-1", policy_env=str(tmp_path / "nope.toml"))
    assert result.returncode == 2
    assert "nope.toml" in result.stderr


def test_due_does_not_import_faust_or_kafka():
    code = (
        "import sys\n"
        "from stream.cli.main import main\n"
        "rc = main(['due', '--start', '2026-11-20T17:30:00Z', '--rep', 'r-1'])\n"
        "top = {m.split('.')[0] for m in sys.modules}\n"
        "heavy = sorted(top & {'faust', 'aiokafka', 'kafka', 'prometheus_client', 'mode'})\n"
        "print('HEAVY', heavy, rc)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "SLA_POLICY_FILE"}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "HEAVY [] 0" in result.stdout


# ----------------------------------------------------------------- which calendar applied


def test_an_unknown_rep_is_named_and_the_default_calendar_said(tmp_path):
    policy = write_policy(tmp_path / "policy.toml", CALENDAR, REPS)
    result = run_due("--start", "2026-11-20T17:30:00-05:00", "--rep", "r-nobody", "--policy", str(policy))
    assert result.returncode == 0, result.stderr
    assert "warning: rep 'r-nobody'" in result.stderr and "[calendar] default" in result.stderr
    assert "--bootstrap" in result.stderr  # how to read the roster too
    assert "calendar from [calendar] default: unknown rep" in result.stdout


def test_a_known_rep_says_where_its_calendar_came_from_without_a_warning(tmp_path):
    policy = write_policy(tmp_path / "policy.toml", CALENDAR, REPS)
    result = run_due("--start", "2026-11-20T17:30:00-05:00", "--rep", "r-berlin", "--policy", str(policy))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "calendar from policy [[reps]]" in result.stdout
    assert "calendar: Europe/Berlin" in result.stdout


def test_an_unreachable_broker_exits_2(tmp_path):
    result = run_due("--start", "2026-11-20T17:30:00Z", "--rep", "r-1", "--bootstrap", "127.0.0.1:1")
    assert result.returncode == 2
    assert "could not read reps" in result.stderr and result.stdout == ""
