"""Realistic Sales & Marketing traffic for demos, tests, replays and backtests.

Pure: a seed and a start instant in, events out. Nothing here reads the clock,
touches Kafka or writes files; ``python -m stream simulate`` does that.

What it models, per lead:

* a ``lead-created`` (source, company size, persona, industry, country, email;
  an owner on most leads, chosen by territory), then the form fill that made
  it (``content-downloaded``) seconds later and a few later downloads;
* the owner's first call after a response delay counted in the rep's working
  time (rep time zone, working hours and days, public holidays, out-of-office):
  most within a few minutes, some within the hour, a long tail of hours, and
  some leads never called (more often for low-intent leads);
* repeated attempts until connected, a bad number, or the rep gives up;
  outcomes ``connected`` (about one attempt in five, more for good segments),
  ``no_answer``, ``voicemail``, ``busy``, ``bad_number``;
* ``lead-assigned`` for unowned leads picked up later, leads of reps out of
  office, and the odd territory fix;
* ``opportunity-created`` for some connected leads, likelier in good segments,
  so that ``analyze`` finds profitable and unprofitable segments;
* a roster (``reps`` topic) of six reps by default: ``office`` hours on
  weekdays in North America and Europe, or ``follow-the-sun`` 12-hour shifts
  every day round the globe (leads then go to a rep at work), with monthly
  workable-lead targets set from the traffic itself, so that pacing reads
  around 100% over a month of it;
* the faults a real pipeline sees: a few duplicates (an event re-sent with the
  same ``event_id``), late call attempts (published minutes to hours after
  their ``occurred_at``) and leads whose ``lead-created`` arrives after their
  first download or call.

Timelines: everything is generated on a simulated timeline that begins at
``start``. With ``speed`` N it is compressed N times toward ``start`` (both
``occurred_at`` and ``publish_at``), so event time keeps pace with the wall
clock while traffic runs N times faster; calendars are exact at speed 1 only.
Every event is published at its ``occurred_at`` except the planted late ones
and the duplicates, which are published later.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from functools import cached_property
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import orjson

from schemas.types import format_timestamp

LEAD_TOPICS = (
    "lead-created",
    "content-downloaded",
    "call-attempt",
    "lead-assigned",
    "opportunity-created",
)
REPS_TOPIC = "reps"

_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# Shares of the faults planted in the traffic.
DUPLICATE_SHARE = 0.01  # of all events
LATE_CALL_SHARE = 0.03  # of call attempts
LATE_LEAD_SHARE = 0.02  # of lead-created events
UNOWNED_SHARE = 0.12  # of leads
# A high-intent download from a lead already called starts a new SLA clock:
# the share of those the rep calls back (the rest stay uncontacted).
REENGAGE_CALLED = 0.95


class Scheduled(NamedTuple):
    """One event to publish: at ``publish_at``, on contract topic ``topic``, keyed by ``key``."""

    publish_at: datetime
    topic: str
    key: str
    value: dict[str, Any]


@dataclass(frozen=True)
class SimRep:
    """A rep of the roster and how they work their leads.

    ``fast_share`` is the share of first responses made within a few minutes
    of the lead reaching them (in their working time); ``mean_attempts`` how
    many attempts they make on a lead that never connects.
    """

    rep_id: str
    team: str
    timezone: str
    working_hours: str = "09:00-17:00"
    working_days: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri")
    holidays_country: str | None = "US"
    monthly_workable_target: int = 100
    active: bool = True
    out_of_office: tuple[tuple[datetime, datetime], ...] = ()
    fast_share: float = 0.6
    mean_attempts: float = 5.0

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @cached_property
    def _ranges(self) -> tuple[tuple[int, int], ...]:
        out = []
        for part in self.working_hours.split(","):
            begin, end = part.strip().split("-")
            out.append((_seconds_of_day(begin), _seconds_of_day(end)))
        return tuple(sorted(out))

    @cached_property
    def _holidays(self):
        if not self.holidays_country:
            return frozenset()
        import holidays

        return holidays.country_holidays(self.holidays_country)

    def record(self, to_output=None) -> dict[str, Any]:
        """This rep as a ``reps`` topic value (schemas.reps.RepRecord)."""
        out = to_output or (lambda t: t)
        value: dict[str, Any] = {
            "rep_id": self.rep_id,
            "team": self.team,
            "timezone": self.timezone,
            "active": self.active,
            "working_hours": self.working_hours,
            "working_days": list(self.working_days),
            "monthly_workable_target": self.monthly_workable_target,
        }
        if self.holidays_country is not None:
            # "" is an explicit "no public holidays"; None leaves it to the policy
            value["holidays_country"] = self.holidays_country
        if self.out_of_office:
            value["out_of_office"] = [
                {"start": format_timestamp(out(a)), "end": format_timestamp(out(b))}
                for a, b in self.out_of_office
            ]
        return value

    def is_out_of_office(self, at: datetime) -> bool:
        return any(a <= at < b for a, b in self.out_of_office)

    def at_work(self, at: datetime) -> bool:
        """True when ``at`` falls in this rep's working time."""
        start, _ = next(self.working_intervals(at), (None, None))
        return start == at

    def working_intervals(self, after: datetime) -> Iterator[tuple[datetime, datetime]]:
        """The rep's working time from ``after`` on, as UTC-comparable (start, end) pairs."""
        first = after.astimezone(self.zone).date() - timedelta(days=1)
        for offset in range(400):
            for a, b in self._day_intervals(first + timedelta(days=offset)):
                if b > after:
                    yield max(a, after), b

    def _day_intervals(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        cache = self._interval_cache
        if day not in cache:
            out = []
            if _WEEKDAYS[day.weekday()] in self.working_days and day not in self._holidays:
                for begin, end in self._ranges:
                    a, b = _local(day, begin, self.zone), _local(day, end, self.zone)
                    for ooo_start, ooo_end in self.out_of_office:
                        if ooo_start <= a < ooo_end:
                            a = ooo_end
                        if a < ooo_start < b:
                            b = ooo_start
                    if a < b:
                        out.append((a, b))
            cache[day] = tuple(out)
        return cache[day]

    @cached_property
    def _interval_cache(self) -> dict[date, tuple[tuple[datetime, datetime], ...]]:
        return {}

    def add_working_seconds(self, at: datetime, seconds: float) -> datetime | None:
        """``at`` plus ``seconds`` of this rep's working time; None beyond a year."""
        remaining = seconds
        for a, b in self.working_intervals(at):
            span = (b - a).total_seconds()
            if remaining < span:
                return a + timedelta(seconds=remaining)
            remaining -= span
        return None


def _two_figures(value: float) -> int:
    """``value`` rounded to two significant figures, as people set targets."""
    if value < 10:
        return max(1, round(value))
    scale = 10 ** (len(str(int(value))) - 2)
    return int(round(value / scale) * scale)


def _seconds_of_day(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 3600 + int(minutes) * 60


def _local(day: date, seconds: int, zone: ZoneInfo) -> datetime:
    if seconds >= 86400:
        return datetime.combine(day + timedelta(days=1), time(), tzinfo=zone)
    return datetime.combine(day, time(seconds // 3600, seconds % 3600 // 60), tzinfo=zone)


# team, time zone, holidays, working hours: cycled to build a roster of any size.
_REP_TEMPLATES = (
    ("na-east", "America/New_York", "US", "09:00-17:00"),
    ("na-west", "America/Los_Angeles", "US", "08:00-12:00,13:00-17:00"),
    ("emea", "Europe/Berlin", "DE", "09:00-17:30"),
    ("na-east", "America/New_York", "US", "08:30-16:30"),
    ("na-west", "America/Los_Angeles", "US", "09:00-17:00"),
    ("emea", "Europe/London", "GB", "09:00-17:00"),
    ("apac", "Australia/Sydney", "AU", "09:00-17:00"),
)
# The round-the-clock floor of `dev`: 12-hour shifts, seven days a week, no
# public holidays, in zones whose shifts overlap so that, whatever the hour,
# someone is at work (the first three already cover the whole day).
_FOLLOW_THE_SUN = (
    ("apac", "Australia/Sydney", "08:00-20:00"),
    ("emea", "Europe/Berlin", "08:00-20:00"),
    ("na-east", "America/New_York", "08:00-20:00"),
    ("apac", "Asia/Singapore", "08:00-20:00"),
    ("emea", "Europe/London", "08:00-20:00"),
    ("na-west", "America/Los_Angeles", "08:00-20:00"),
)
ROSTERS = ("office", "follow-the-sun")

# Workable share of simulated leads under the default scoring (threshold 50,
# no segment table): about 0.43 measured by `backtest` over simulated weeks.
WORKABLE_SHARE = 0.43
MINUTES_PER_MONTH = 30.44 * 24 * 60
# Leads drawn to estimate each rep's share of the traffic (for its target).
_SHARE_SAMPLES = 3000

# Lead countries (weight) and the team whose territory they are.
_COUNTRIES = (
    ("US", 55, "na"),
    ("CA", 6, "na"),
    ("GB", 10, "emea"),
    ("DE", 9, "emea"),
    ("FR", 5, "emea"),
    ("NL", 4, "emea"),
    ("AU", 6, "apac"),
    ("IN", 5, "apac"),
)
_SOURCES = (("web", 45), ("paid", 25), ("referral", 15), ("event", 15))
# employees (low, high), weight, typical first-year deal size in USD
_SIZE_BANDS = (
    ((1, 10), 22, 3_000),
    ((11, 50), 25, 8_000),
    ((51, 200), 22, 20_000),
    ((201, 1000), 16, 50_000),
    ((1001, 5000), 10, 120_000),
    ((5001, 50000), 5, 250_000),
)
_PERSONAS = (
    ("executive", 12),
    ("director", 18),
    ("manager", 30),
    ("individual_contributor", 30),
    ("student", 10),
)
_INDUSTRIES = (
    "software",
    "financial_services",
    "healthcare",
    "manufacturing",
    "retail",
    "education",
    "professional_services",
)

# Closed-loop fit in 0..1 of each segment attribute; a lead's fit is their geometric mean.
_SOURCE_FIT = {"referral": 0.9, "event": 0.65, "web": 0.55, "paid": 0.35}
_SIZE_FIT = (0.3, 0.55, 0.8, 0.9, 0.8, 0.6)
_PERSONA_FIT = {
    "executive": 0.85,
    "director": 0.9,
    "manager": 0.7,
    "individual_contributor": 0.45,
    "student": 0.05,
}

# The download that made the lead, by source; later downloads use the overall mix.
_CONTENT_MIX = (("demo_request", 8), ("pricing", 12), ("webinar", 20), ("ebook", 30), ("blog", 30))
_FIRST_CONTENT = {
    "web": (("demo_request", 10), ("pricing", 12), ("webinar", 10), ("ebook", 33), ("blog", 35)),
    "paid": (("demo_request", 6), ("pricing", 10), ("webinar", 14), ("ebook", 50), ("blog", 20)),
    "referral": (("demo_request", 35), ("pricing", 25), ("webinar", 10), ("ebook", 15), ("blog", 15)),
    "event": (("demo_request", 10), ("pricing", 5), ("webinar", 55), ("ebook", 20), ("blog", 10)),
}
_CONTENT_IDS = {
    "demo_request": ("demo-request-form", "demo-request-chat"),
    "pricing": ("pricing-page", "pricing-calculator"),
    "webinar": ("webinar-smarketing-101", "webinar-five-minute-rule", "webinar-closed-loop"),
    "ebook": ("ebook-how-to-create-an-sla", "ebook-lead-scoring", "ebook-inbound-playbook"),
    "blog": ("blog-sales-marketing-alignment", "blog-lead-response-time", "blog-workable-leads"),
}
_INTENT_RANK = {"blog": 0, "ebook": 1, "webinar": 2, "pricing": 3, "demo_request": 4}
# Chance that a lead whose strongest download is this type is never called.
_NEVER_CALLED = {"blog": 0.3, "ebook": 0.15, "webinar": 0.1, "pricing": 0.04, "demo_request": 0.03}
_HIGH_INTENT = ("demo_request", "pricing")

_FIRST_NAMES = (
    "alex", "sam", "maria", "jan", "priya", "li", "noah", "emma", "lucas", "sofia",
    "omar", "hannah", "mateo", "chloe", "ravi", "anna", "david", "yuki", "elena", "tom",
)  # fmt: skip
_LAST_NAMES = (
    "smith", "garcia", "mueller", "chen", "patel", "brown", "rossi", "kim", "novak",
    "dubois", "jones", "silva", "khan", "meyer", "taylor", "nguyen", "lopez", "weber",
)  # fmt: skip
_COMPANY_PARTS = (
    ("north", "blue", "bright", "summit", "harbor", "pine", "quantum", "atlas", "cedar", "nova"),
    ("wind", "field", "works", "labs", "logic", "point", "stack", "ridge", "wave", "forge"),
)


def default_reps(count: int, start: datetime, rng: random.Random, roster: str = "office") -> list[SimRep]:
    """``count`` reps cycling through the teams and time zones; the second rep
    is out of office for two local days from the start's next day.

    ``office``: weekday office hours in North America and Europe (and Sydney
    from the seventh rep on); ``follow-the-sun``: 12-hour shifts, every day,
    round the globe. Targets are placeholders until ``Simulation`` sets them
    from the traffic."""
    if count < 1:
        raise ValueError("a roster needs at least one rep")
    if roster not in ROSTERS:
        raise ValueError(f"unknown roster {roster!r} (known: {', '.join(ROSTERS)})")
    reps = []
    for i in range(count):
        if roster == "office":
            team, tz, country, hours = _REP_TEMPLATES[i % len(_REP_TEMPLATES)]
            days = _WEEKDAYS[:5]
        else:
            team, tz, hours = _FOLLOW_THE_SUN[i % len(_FOLLOW_THE_SUN)]
            country, days = "", _WEEKDAYS
        ooo: tuple[tuple[datetime, datetime], ...] = ()
        if i == 1:
            day = start.astimezone(ZoneInfo(tz)).date() + timedelta(days=1)
            ooo = ((_local(day, 0, ZoneInfo(tz)), _local(day + timedelta(days=2), 0, ZoneInfo(tz))),)
        reps.append(
            SimRep(
                rep_id=f"r-{i + 1:03d}",
                team=team,
                timezone=tz,
                working_hours=hours,
                working_days=days,
                holidays_country=country,
                out_of_office=ooo,
                fast_share=round(rng.uniform(0.45, 0.85), 2),
                mean_attempts=round(rng.uniform(3.0, 7.0), 1),
            )
        )
    return reps


@dataclass
class _Lead:
    lead_id: str
    created: datetime
    source: str
    size_band: int
    persona: str
    country: str
    territory: str
    fit: float
    owner: SimRep | None
    # (instant, new owner) in time order
    assignments: list[tuple[datetime, SimRep]] = field(default_factory=list)

    def owner_at(self, at: datetime) -> SimRep | None:
        owner = self.owner
        for when, rep in self.assignments:
            if when <= at:
                owner = rep
        return owner


class Simulation:
    """Seeded, deterministic traffic for every input topic.

    >>> sim = Simulation(seed=7, start=datetime(2026, 11, 20, 14, tzinfo=UTC))
    >>> for publish_at, topic, key, value in sim.events(leads=10): ...

    ``leads_per_minute`` is the mean arrival rate on the simulated timeline
    (Poisson arrivals); ``speed`` compresses that timeline (see the module doc);
    ``roster`` (with a number of ``reps``) is ``office`` or ``follow-the-sun``.
    The same seed, start and parameters always give the same events.
    """

    def __init__(
        self,
        seed: int,
        start: datetime,
        reps: int | Sequence[SimRep] = 6,
        leads_per_minute: float = 2.0,
        speed: float = 1.0,
        roster: str = "office",
    ) -> None:
        if start.tzinfo is None or start.utcoffset() is None:
            raise ValueError("start must carry a time zone")
        if not leads_per_minute > 0:
            raise ValueError("leads_per_minute must be > 0")
        if not speed > 0:
            raise ValueError("speed must be > 0")
        self.seed = seed
        self.start = _ms(start)
        self.leads_per_minute = leads_per_minute
        self.speed = speed
        setup = random.Random(f"{seed}:setup")
        self.run_tag = f"{setup.getrandbits(24):06x}"
        # A round-the-clock floor hands a lead to a rep at work, preferring its territory.
        self.route_to_reps_at_work = roster == "follow-the-sun"
        if isinstance(reps, int):
            self.reps = default_reps(reps, self.start, setup, roster)
            self.reps = self._with_traffic_targets(setup)
        else:
            self.reps = list(reps)
        if not self.reps:
            raise ValueError("a roster needs at least one rep")
        ids = [rep.rep_id for rep in self.reps]
        if len(set(ids)) != len(ids):
            raise ValueError("rep ids must be unique")

    def _with_traffic_targets(self, rng: random.Random) -> list[SimRep]:
        """The reps with monthly workable targets that this traffic can meet.

        A rep's target is its share of a month of leads (at this rate and
        speed, as the worker's clock sees them) times the workable share,
        divided by a factor of 0.8 to 1.25 so that some reps run ahead and
        some behind: pacing then reads around 100%, as on a real floor."""
        shares = self._owner_shares()
        monthly = self.leads_per_minute * self.speed * MINUTES_PER_MONTH * WORKABLE_SHARE
        out = []
        for rep in self.reps:
            target = monthly * shares.get(rep.rep_id, 0.0) / rng.uniform(0.8, 1.25)
            out.append(replace(rep, monthly_workable_target=_two_figures(target)))
        return out

    def _owner_shares(self) -> dict[str, float]:
        """Each rep's share of all leads as first owner, from leads drawn over
        a week by the same routing as the traffic (its own random stream)."""
        rng = random.Random(f"{self.seed}:shares")
        counts: Counter[str] = Counter()
        weights = [w for _, w, _ in _COUNTRIES]
        for _ in range(_SHARE_SAMPLES):
            if rng.random() < UNOWNED_SHARE:
                continue
            at = self.start + timedelta(seconds=rng.uniform(0, 7 * 86400))
            rep = self._territory_rep(rng, _COUNTRIES[_pick_index(rng, weights)][2], at)
            if rep is not None:
                counts[rep.rep_id] += 1
        return {rep_id: n / _SHARE_SAMPLES for rep_id, n in counts.items()}

    def roster(self) -> list[dict[str, Any]]:
        """The ``reps`` topic values (schemas.reps.RepRecord), keyed by ``rep_id``."""
        return [rep.record(self._out) for rep in self.reps]

    def to_output(self, sim_time: datetime) -> datetime:
        """Where an instant of the simulated timeline lands after compression by ``speed``."""
        return self._out(sim_time)

    def events(self, *, leads: int | None = None, until: datetime | None = None) -> Iterator[Scheduled]:
        """Events in publish order.

        New leads stop after ``leads`` leads or once arrivals pass ``until``;
        the events of leads already created keep coming until none are left,
        except that nothing published after ``until`` is yielded. With neither
        bound the stream never ends.
        """
        rng = random.Random(f"{self.seed}:events")
        # (POSIX seconds of publish_at, tie-breaker, item): floats compare
        # much faster than aware datetimes.
        queue: list[tuple[float, int, Scheduled]] = []
        order = itertools.count()

        def push(item: Scheduled) -> None:
            heapq.heappush(queue, (item.publish_at.timestamp(), next(order), item))

        gap_seconds = 60.0 / self.leads_per_minute
        arrival = self.start + timedelta(seconds=rng.expovariate(1.0) * gap_seconds)
        created = 0
        while True:
            can_create = (leads is None or created < leads) and (
                until is None or self._out(arrival) <= until
            )
            if can_create and (not queue or queue[0][0] > self._out(arrival).timestamp()):
                created += 1
                self._make_lead(rng, created, _ms(arrival), push)
                arrival += timedelta(seconds=rng.expovariate(1.0) * gap_seconds)
                continue
            if not queue:
                return
            _, _, item = heapq.heappop(queue)
            if until is not None and item.publish_at > until:
                return
            yield item

    # -- one lead's story --------------------------------------------------

    def _out(self, at: datetime) -> datetime:
        if self.speed == 1:
            return at
        return _ms(self.start + (at - self.start) / self.speed)

    def _make_lead(self, rng: random.Random, number: int, at: datetime, push) -> None:
        lead = self._new_lead(rng, number, at)
        emit = _Emitter(self, rng, lead, push)

        fields: dict[str, Any] = {
            "source": lead.source,
            "company_size": rng.randint(*_SIZE_BANDS[lead.size_band][0]),
            "industry": rng.choice(_INDUSTRIES),
            "country": lead.country,
            "persona": lead.persona,
            "email": _email(rng),
        }
        if lead.owner is not None:
            fields["owner_rep_id"] = lead.owner.rep_id
        late = rng.random() < LATE_LEAD_SHARE
        emit("lead-created", at, fields, publish_delay=_lognormal(rng, 180, 0.8) if late else 0.0)

        # The form fill that created the lead, then later visits.
        first_type = _pick(rng, _FIRST_CONTENT[lead.source])
        ready = _ms(at + timedelta(seconds=rng.uniform(1, 20)))
        downloads = [(ready, first_type)]
        for _ in range(rng.choice((0, 0, 0, 1, 1, 2, 3))):
            when = _ms(ready + timedelta(seconds=rng.expovariate(1 / (2 * 86400))))
            downloads.append((when, _pick(rng, _CONTENT_MIX)))
        downloads.sort()
        for when, content_type in downloads:
            emit(
                "content-downloaded",
                when,
                {"content_id": rng.choice(_CONTENT_IDS[content_type]), "content_type": content_type},
            )

        self._plan_assignments(rng, lead, ready)
        for when, rep in lead.assignments:
            emit("lead-assigned", when, {"rep_id": rep.rep_id})

        cadence = self._plan_attempts(rng, lead, ready, first_type)
        reengagements = self._reengagements(rng, lead, downloads, cadence)
        # (instant, rep, part of the cadence): the cadence ends at the first
        # connect, a call prompted by a new download happens regardless.
        attempts = [(w, r, True) for w, r in cadence] + [(w, r, False) for w, r in reengagements]
        attempts.sort(key=lambda a: a[0])

        connected_at = None
        for i, (when, rep, in_cadence) in enumerate(attempts):
            if connected_at is not None and in_cadence:
                continue
            outcome = _outcome(rng, lead, first=i == 0)
            call: dict[str, Any] = {"rep_id": rep.rep_id, "outcome": outcome}
            if rng.random() < 0.95:
                call["duration_seconds"] = _duration(rng, outcome)
            late_call = rng.random() < LATE_CALL_SHARE
            emit(
                "call-attempt",
                when,
                call,
                zone=rep.zone,
                publish_delay=_lognormal(rng, 600, 1.0) if late_call else 0.0,
            )
            if outcome == "bad_number":
                break
            if outcome == "connected" and connected_at is None:
                connected_at = when

        if connected_at is not None and rng.random() < 0.6 * lead.fit**3:
            when = _ms(connected_at + timedelta(seconds=_lognormal(rng, 36 * 3600, 0.8)))
            typical = _SIZE_BANDS[lead.size_band][2]
            opportunity: dict[str, Any] = {"amount": round(_lognormal(rng, typical, 0.5), -2)}
            if rng.random() < 0.9:
                opportunity["currency"] = "USD"
            emit("opportunity-created", when, opportunity)

    def _new_lead(self, rng: random.Random, number: int, at: datetime) -> _Lead:
        source = _pick(rng, _SOURCES)
        size_band = _pick_index(rng, [w for _, w, _ in _SIZE_BANDS])
        persona = _pick(rng, _PERSONAS)
        country_row = _COUNTRIES[_pick_index(rng, [w for _, w, _ in _COUNTRIES])]
        fit = (_SOURCE_FIT[source] * _SIZE_FIT[size_band] * _PERSONA_FIT[persona]) ** (1 / 3)
        owner = None
        if rng.random() >= UNOWNED_SHARE:
            owner = self._territory_rep(rng, country_row[2], at)
        return _Lead(
            lead_id=f"lead-{self.run_tag}-{number:06d}",
            created=at,
            source=source,
            size_band=size_band,
            persona=persona,
            country=country_row[0],
            territory=country_row[2],
            fit=fit,
            owner=owner,
        )

    def _territory_rep(
        self, rng: random.Random, territory: str, at: datetime, other_than: SimRep | None = None
    ) -> SimRep | None:
        active = [r for r in self.reps if r.active and r is not other_than]
        if not active:
            return None
        local = [r for r in active if r.team.startswith(territory)]
        if self.route_to_reps_at_work:
            working = [r for r in active if r.at_work(at) and not r.is_out_of_office(at)]
            nearby = [r for r in working if r in local]
            if working:
                return rng.choice(nearby or working)
        present = [r for r in (local or active) if not r.is_out_of_office(at)]
        return rng.choice(present or local or active)

    def _plan_assignments(self, rng: random.Random, lead: _Lead, ready: datetime) -> None:
        if lead.owner is None:
            if rng.random() < 0.6:
                when = _ms(ready + timedelta(seconds=_lognormal(rng, 40 * 60, 1.0)))
                rep = self._territory_rep(rng, lead.territory, when)
                if rep is not None:
                    lead.assignments.append((when, rep))
            return
        if lead.owner.is_out_of_office(ready):
            chance, median_seconds = 0.8, 3600.0
        else:
            chance, median_seconds = 0.04, 86400.0
        if rng.random() < chance:
            when = _ms(ready + timedelta(seconds=_lognormal(rng, median_seconds, 0.8)))
            rep = self._territory_rep(rng, lead.territory, when, other_than=lead.owner)
            if rep is not None:
                lead.assignments.append((when, rep))

    def _plan_attempts(
        self, rng: random.Random, lead: _Lead, ready: datetime, first_type: str
    ) -> list[tuple[datetime, SimRep]]:
        if rng.random() < _NEVER_CALLED[first_type]:
            return []
        first = self._first_attempt(rng, lead, ready)
        if first is None:
            return []
        attempts = [first]
        caller = first[1]
        wanted = max(1, round(rng.gauss(caller.mean_attempts, 1.5)))
        when = first[0]
        while len(attempts) < wanted:
            gap_seconds = _lognormal(rng, 3 * 3600, 0.9)
            rep = lead.owner_at(when) or caller
            next_at = rep.add_working_seconds(when, gap_seconds)
            handovers = [(t, r) for t, r in lead.assignments if next_at is not None and when < t <= next_at]
            if handovers:
                # Reassigned meanwhile: the new owner carries on from the handover.
                handed_at, rep = handovers[-1]
                next_at = rep.add_working_seconds(handed_at, gap_seconds)
            if next_at is None:
                break
            when = _ms(next_at)
            attempts.append((when, rep))
        return attempts

    def _first_attempt(
        self, rng: random.Random, lead: _Lead, ready: datetime
    ) -> tuple[datetime, SimRep] | None:
        owner = lead.owner
        handover = lead.assignments[0] if lead.assignments else None
        if owner is not None:
            first = _respond(rng, owner, ready)
            if first is not None and (handover is None or first < handover[0]):
                return first, owner
        if handover is not None:
            first = _respond(rng, handover[1], handover[0])
            return (first, handover[1]) if first is not None else None
        if owner is None and rng.random() < 0.5:
            # Nobody owns it: whoever works the shared queue gets to it, slowly.
            rep = self._territory_rep(rng, lead.territory, ready)
            if rep is not None:
                when = rep.add_working_seconds(ready, _lognormal(rng, 3 * 3600, 1.0))
                return (_ms(when), rep) if when is not None else None
        return None

    def _reengagements(
        self,
        rng: random.Random,
        lead: _Lead,
        downloads: list[tuple[datetime, str]],
        attempts: list[tuple[datetime, SimRep]],
    ) -> list[tuple[datetime, SimRep]]:
        """A later high-intent download prompts a call: from a lead already
        called (it starts a new SLA clock), and from one nobody called yet."""
        out = []
        for when, content_type in downloads[1:]:
            if content_type not in _HIGH_INTENT or (attempts and when <= attempts[0][0]):
                continue  # a first call is on its way anyway
            rep = lead.owner_at(when) or (attempts[0][1] if attempts else None)
            if rep is not None and rng.random() < REENGAGE_CALLED:
                first = _respond(rng, rep, when, never_share=0.0)
                if first is not None:
                    out.append((first, rep))
        return out


class _Emitter:
    """Builds the wire values of one lead's events and plants the duplicates."""

    def __init__(self, sim: Simulation, rng: random.Random, lead: _Lead, push) -> None:
        self.sim, self.rng, self.lead, self.push = sim, rng, lead, push

    def __call__(
        self,
        topic: str,
        occurred: datetime,
        fields: dict[str, Any],
        *,
        zone: ZoneInfo | None = None,
        publish_delay: float = 0.0,
    ) -> None:
        rng, out = self.rng, self.sim._out
        occurred_at = out(occurred)
        stamp = occurred_at.astimezone(zone) if zone is not None else occurred_at
        value = {
            "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "lead_id": self.lead.lead_id,
            "occurred_at": format_timestamp(stamp),
            **fields,
        }
        publish_at = out(_ms(occurred + timedelta(seconds=publish_delay))) if publish_delay else occurred_at
        self.push(Scheduled(publish_at, topic, self.lead.lead_id, value))
        if rng.random() < DUPLICATE_SHARE:
            again = out(_ms(occurred + timedelta(seconds=publish_delay + rng.uniform(0.5, 90))))
            self.push(Scheduled(max(again, publish_at), topic, self.lead.lead_id, dict(value)))


def _respond(
    rng: random.Random, rep: SimRep, ready: datetime, never_share: float = 0.05
) -> datetime | None:
    """When ``rep`` first calls a lead that reached them at ``ready``, in their working time."""
    u = rng.random()
    if u < rep.fast_share:
        delay = _lognormal(rng, 100, 0.7)  # most within five minutes
    else:
        u = rng.random()
        if u < never_share:
            return None
        if u < 0.55:
            delay = _lognormal(rng, 15 * 60, 0.8)
        else:
            delay = _lognormal(rng, 3 * 3600, 0.9)  # the long tail
    when = rep.add_working_seconds(ready, delay)
    return _ms(when) if when is not None else None


def _outcome(rng: random.Random, lead: _Lead, first: bool) -> str:
    bad_share = 0.02 + (0.04 if lead.source == "paid" else 0.0)
    if first and rng.random() < bad_share:
        return "bad_number"
    if rng.random() < 0.06 + 0.22 * lead.fit:
        return "connected"
    return _pick(rng, (("no_answer", 45), ("voicemail", 40), ("busy", 15)))


def _duration(rng: random.Random, outcome: str) -> float:
    if outcome == "connected":
        seconds = _lognormal(rng, 480, 0.7)
    elif outcome == "voicemail":
        seconds = rng.uniform(20, 70)
    elif outcome == "no_answer":
        seconds = rng.uniform(20, 45)
    else:
        seconds = rng.uniform(0, 8)
    return round(seconds, 1)


def _email(rng: random.Random) -> str:
    company = rng.choice(_COMPANY_PARTS[0]) + rng.choice(_COMPANY_PARTS[1])
    return f"{rng.choice(_FIRST_NAMES)}.{rng.choice(_LAST_NAMES)}@{company}.example"


def _lognormal(rng: random.Random, median: float, sigma: float) -> float:
    return rng.lognormvariate(math.log(median), sigma)


def _pick(rng: random.Random, weighted: Sequence[tuple[str, int]]) -> str:
    return weighted[_pick_index(rng, [w for _, w in weighted])][0]


def _pick_index(rng: random.Random, weights: Sequence[float]) -> int:
    return rng.choices(range(len(weights)), weights=weights)[0]


def _ms(at: datetime) -> datetime:
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


def to_history_lines(
    events: Iterable[Scheduled | tuple[datetime, str, str, dict]],
    roster: Iterable[dict[str, Any]] = (),
) -> Iterator[str]:
    """History lines ``{"topic": ..., "value": {...}}`` (each ending in a newline):
    the roster first, then the events in publish order. Topic names carry no prefix."""
    for record in roster:
        yield orjson.dumps({"topic": REPS_TOPIC, "value": record}).decode() + "\n"
    for _, topic, _, value in events:
        yield orjson.dumps({"topic": topic, "value": value}).decode() + "\n"
