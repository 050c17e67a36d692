"""Which business calendar applies to a rep.

A rep's calendar is merged field by field from, in order of precedence:

1. the latest record of the ``reps`` topic for that rep (:meth:`CalendarBook.update_rep`),
2. the rep's ``[[reps]]`` entry in the policy file,
3. the policy's ``[calendar]`` default.

A field left out (None) falls through to the next source. ``holidays_country
= ""`` is an explicit "no public holidays" and does not fall through. Unowned
leads (rep None) and reps found in neither the topic nor the file get the
``[calendar]`` default.
"""

from __future__ import annotations

from schemas.reps import RepRecord
from stream.domain.calendar import BusinessCalendar
from stream.policy import CalendarPolicy, Policy, RepPolicy

CALENDAR_FIELDS: tuple[str, ...] = (
    "timezone",
    "working_hours",
    "working_days",
    "holidays_country",
    "holidays",
    "out_of_office",
)


def _build(sources: list[CalendarPolicy | RepPolicy | RepRecord]) -> BusinessCalendar:
    """The calendar whose every field comes from the first source that sets it."""
    values = {}
    for name in CALENDAR_FIELDS:
        for source in sources:
            value = getattr(source, name)
            if value is not None:
                values[name] = value
                break
        else:  # pragma: no cover - the last source is [calendar]; only holidays_country may be None
            values[name] = None
    return BusinessCalendar.build(
        timezone=values["timezone"],
        working_hours=values["working_hours"],
        working_days=values["working_days"],
        holidays_country=values["holidays_country"] or None,
        holidays=values["holidays"] or (),
        out_of_office=values["out_of_office"] or (),
    )


class CalendarBook:
    """Business calendars per rep, built on demand and cached.

    Usage::

        book = CalendarBook(policy)
        book.update_rep(record)            # a value of the ``reps`` topic
        due = book.calendar_for("r-001").add(clock_start, 300)
    """

    def __init__(self, policy: Policy) -> None:
        self._default_policy = policy.calendar
        self._file: dict[str, RepPolicy] = {rep.rep_id: rep for rep in policy.reps}
        self._roster: dict[str, RepRecord] = {}
        self._cache: dict[str, BusinessCalendar] = {}
        self._default = _build([policy.calendar])
        # Bumped on every roster change, so callers can cache per-rep answers.
        self.version = 0

    @property
    def default(self) -> BusinessCalendar:
        """The ``[calendar]`` default: unowned leads and reps not in the roster."""
        return self._default

    def calendar_for(self, rep_id: str | None) -> BusinessCalendar:
        """The calendar of ``rep_id``; the default for None or an unknown rep."""
        if rep_id is None:
            return self._default
        calendar = self._cache.get(rep_id)
        if calendar is None:
            sources = self._sources(rep_id)
            if not sources:
                return self._default
            calendar = _build([*sources, self._default_policy])
            self._cache[rep_id] = calendar
        return calendar

    def check(self, record: RepRecord) -> BusinessCalendar:
        """The calendar ``record`` would give its rep, without applying it.

        Raises ValueError naming the field (e.g. ``"rep 'r-001': timezone:
        unknown IANA time zone 'Mars/Base'"``) when the record's calendar fields
        are invalid, so that the caller can dead-letter it.
        """
        file_entry = self._file.get(record.rep_id)
        sources = [record, file_entry] if file_entry is not None else [record]
        try:
            return _build([*sources, self._default_policy])
        except ValueError as exc:
            raise ValueError(f"rep {record.rep_id!r}: {exc}") from None

    def update_rep(self, record: RepRecord) -> BusinessCalendar:
        """Apply a ``reps`` topic record (it overrides the file for that rep,
        field by field) and return the rep's new calendar.

        Raises ValueError naming the field, as :meth:`check`; the book is then
        left unchanged.
        """
        calendar = self.check(record)
        self._roster[record.rep_id] = record
        self._cache[record.rep_id] = calendar
        self.version += 1
        return calendar

    def forget_rep(self, rep_id: str) -> None:
        """Drop the topic record of ``rep_id`` (a tombstone); the file entry, if any, applies again."""
        self._roster.pop(rep_id, None)
        self._cache.pop(rep_id, None)
        self.version += 1

    def team_of(self, rep_id: str | None) -> str | None:
        """The rep's team: the ``reps`` topic's word, else its ``[[reps]]`` entry's; None when neither says."""
        if rep_id is None:
            return None
        for source in self._sources(rep_id):
            if source.team:
                return source.team
        return None

    def roster(self) -> dict[str, RepRecord]:
        """The ``reps`` topic records applied so far, by rep id."""
        return dict(self._roster)

    def rep_ids(self) -> list[str]:
        """Every rep known from the policy file or the topic, sorted."""
        return sorted(self._file.keys() | self._roster.keys())

    def source_of(self, rep_id: str | None) -> str:
        """Where ``rep_id``'s calendar comes from, for people: ``"reps topic"``,
        ``"policy [[reps]]"``, ``"reps topic + policy [[reps]]"`` or ``"[calendar] default"``."""
        names = []
        if rep_id is not None and rep_id in self._roster:
            names.append("reps topic")
        if rep_id is not None and rep_id in self._file:
            names.append("policy [[reps]]")
        return " + ".join(names) or "[calendar] default"

    def _sources(self, rep_id: str) -> list[RepRecord | RepPolicy]:
        sources: list[RepRecord | RepPolicy] = []
        if rep_id in self._roster:
            sources.append(self._roster[rep_id])
        if rep_id in self._file:
            sources.append(self._file[rep_id])
        return sources
