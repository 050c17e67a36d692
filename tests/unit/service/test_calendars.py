"""CalendarBook: which calendar a rep gets, field by field from the reps
topic, the policy's [[reps]] entry and the [calendar] default."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from schemas.reps import RepRecord
from stream.domain.calendar import BusinessCalendar
from stream.policy import PolicyError, parse_policy
from stream.service.calendars import CalendarBook


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


POLICY = parse_policy(
    {
        "calendar": {
            "timezone": "America/New_York",
            "working_hours": "09:00-17:00",
            "working_days": ["mon", "tue", "wed", "thu", "fri"],
            "holidays_country": "US",
        },
        "reps": [
            {"rep_id": "r-berlin", "timezone": "Europe/Berlin", "holidays_country": "DE"},
            {"rep_id": "r-lunch", "working_hours": "08:00-12:00,13:00-16:00", "holidays": ["2026-11-23"]},
            {"rep_id": "r-nohols", "holidays_country": ""},
            {
                "rep_id": "r-away",
                "out_of_office": [{"start": "2026-11-23T00:00:00-05:00", "end": "2026-11-25T12:00:00-05:00"}],
            },
        ],
    }
)
FRIDAY_EVENING = ts("2026-11-20T17:30:00-05:00")


@pytest.fixture
def book() -> CalendarBook:
    return CalendarBook(POLICY)


@pytest.mark.parametrize(
    ("rep_id", "expected_due"),
    [
        (None, "2026-11-23T09:05:00-05:00"),  # unowned lead: [calendar]
        ("r-unknown", "2026-11-23T09:05:00-05:00"),  # not in the roster: [calendar]
        ("r-berlin", "2026-11-23T09:05:00+01:00"),  # own zone, hours from [calendar]
        ("r-lunch", "2026-11-24T08:05:00-05:00"),  # own hours and closed date, zone from [calendar]
        ("r-away", "2026-11-25T12:05:00-05:00"),  # out of office Monday to Wednesday noon
    ],
)
def test_calendar_for_merges_file_and_default(book, rep_id, expected_due):
    assert book.calendar_for(rep_id).add(FRIDAY_EVENING, 300) == ts(expected_due)


def test_fields_fall_back_to_the_default(book):
    berlin = book.calendar_for("r-berlin")
    assert berlin.timezone == "Europe/Berlin"
    assert berlin.holidays_country == "DE"
    assert berlin.working_hours == ((9 * 3600, 17 * 3600),)
    assert berlin.working_days == frozenset(range(5))
    assert book.calendar_for("r-lunch").closed_dates == frozenset({date(2026, 11, 23)})


def test_empty_country_means_no_public_holidays(book):
    thanksgiving = ts("2026-11-26T10:00:00-05:00")
    assert book.calendar_for("r-nohols").holidays_country is None
    assert book.calendar_for("r-nohols").is_within(thanksgiving)
    assert not book.default.is_within(thanksgiving)
    book.update_rep(RepRecord(rep_id="r-topic", holidays_country=""))
    assert book.calendar_for("r-topic").is_within(thanksgiving)


def test_unknown_and_none_get_the_default(book):
    assert book.calendar_for(None) is book.default
    assert book.calendar_for("r-unknown") is book.default
    weekdays = ["mon", "tue", "wed", "thu", "fri"]
    assert book.default == BusinessCalendar.build("America/New_York", "09:00-17:00", weekdays, "US")


def test_calendars_are_cached(book):
    assert book.calendar_for("r-berlin") is book.calendar_for("r-berlin")


def test_topic_record_overrides_the_file_field_by_field(book):
    before = book.calendar_for("r-berlin")
    after = book.update_rep(RepRecord(rep_id="r-berlin", working_hours="10:00-18:00"))
    assert book.calendar_for("r-berlin") is after and after is not before  # cache invalidated
    assert after.timezone == "Europe/Berlin"  # from [[reps]]
    assert after.holidays_country == "DE"  # from [[reps]]
    assert after.working_hours == ((10 * 3600, 18 * 3600),)  # from the topic
    assert after.working_days == frozenset(range(5))  # from [calendar]
    book.update_rep(RepRecord(rep_id="r-berlin", timezone="Asia/Tokyo"))
    # a later record replaces the earlier one as a whole
    assert book.calendar_for("r-berlin").working_hours == ((9 * 3600, 17 * 3600),)
    assert book.calendar_for("r-berlin").timezone == "Asia/Tokyo"


def test_topic_only_rep(book):
    record = RepRecord.model_validate(
        {
            "rep_id": "r-new",
            "timezone": "Asia/Kolkata",
            "working_days": ["sun", "mon"],
            "out_of_office": [{"start": "2026-11-23T00:00:00Z", "end": "2026-11-24T00:00:00Z"}],
        }
    )
    calendar = book.update_rep(record)
    assert calendar.timezone == "Asia/Kolkata"
    assert calendar.working_days == frozenset({6, 0})
    assert calendar.holidays_country == "US"  # from [calendar]
    assert len(calendar.out_of_office) == 1
    assert book.source_of("r-new") == "reps topic"
    assert book.source_of("r-berlin") == "policy [[reps]]"
    assert book.source_of("r-zzz") == "[calendar] default"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"timezone": "Mars/Base"}, "rep 'r-bad': timezone: unknown IANA time zone 'Mars/Base'"),
        ({"working_hours": "9 to 5"}, "rep 'r-bad': working_hours:"),
        ({"working_hours": "17:00-09:00"}, "rep 'r-bad': working_hours:"),
        ({"holidays_country": "XX"}, "rep 'r-bad': holidays_country:"),
        (
            {"out_of_office": [{"start": "2026-11-24T00:00:00Z", "end": "2026-11-23T00:00:00Z"}]},
            r"rep 'r-bad': out_of_office\[0\]: end must be after start",
        ),
    ],
)
def test_invalid_topic_record_is_refused_naming_the_field(book, fields, message):
    record = RepRecord.model_validate({"rep_id": "r-bad", **fields})
    with pytest.raises(ValueError, match=message):
        book.check(record)
    with pytest.raises(ValueError, match=message):
        book.update_rep(record)
    assert book.calendar_for("r-bad") is book.default
    assert "r-bad" not in book.rep_ids()


def test_invalid_update_keeps_the_previous_calendar(book):
    good = book.update_rep(RepRecord(rep_id="r-berlin", working_hours="10:00-18:00"))
    with pytest.raises(ValueError):
        book.update_rep(RepRecord(rep_id="r-berlin", timezone="Nowhere/Land"))
    assert book.calendar_for("r-berlin") is good


def test_check_does_not_apply(book):
    checked = book.check(RepRecord(rep_id="r-berlin", timezone="Asia/Tokyo"))
    assert checked.timezone == "Asia/Tokyo"
    assert book.calendar_for("r-berlin").timezone == "Europe/Berlin"


def test_forget_rep_returns_to_the_file(book):
    book.update_rep(RepRecord(rep_id="r-berlin", timezone="Asia/Tokyo"))
    book.update_rep(RepRecord(rep_id="r-topic"))
    book.forget_rep("r-berlin")
    book.forget_rep("r-topic")
    assert book.calendar_for("r-berlin").timezone == "Europe/Berlin"
    assert book.calendar_for("r-topic") is book.default
    assert "r-topic" not in book.rep_ids()


def test_rep_ids_lists_file_and_topic_reps(book):
    book.update_rep(RepRecord(rep_id="r-0"))
    assert book.rep_ids() == ["r-0", "r-away", "r-berlin", "r-lunch", "r-nohols"]


def test_policy_refuses_out_of_office_ending_before_it_starts():
    period = {"start": "2026-11-24T00:00:00Z", "end": "2026-11-24T00:00:00Z"}
    with pytest.raises(PolicyError, match=r"reps\[0\]\.out_of_office: period \[0\]: end must be after start"):
        parse_policy({"reps": [{"rep_id": "r", "out_of_office": [period]}]})
    with pytest.raises(PolicyError, match=r"calendar\.out_of_office"):
        parse_policy({"calendar": {"out_of_office": [period]}})


def test_policy_default_calendar_without_holidays():
    book = CalendarBook(parse_policy({"calendar": {"holidays_country": "", "timezone": "UTC"}}))
    assert book.default.holidays_country is None
    assert book.default.is_within(ts("2026-12-25T10:00:00Z"))
