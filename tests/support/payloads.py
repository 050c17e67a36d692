"""Hypothesis strategies of Kafka records for the input topics and ``reps``:
valid events, and every way a producer gets one wrong.

A record is (contract topic, key, value, headers); key and value are the raw
bytes a producer would send (None: no key / a tombstone).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import orjson
from hypothesis import strategies as st

LEAD_TOPICS = ("lead-created", "content-downloaded", "call-attempt", "lead-assigned", "opportunity-created")
TOPICS = (*LEAD_TOPICS, "reps")

# Text as producers send it: any Unicode but lone surrogates (not encodable
# as UTF-8), odd characters weighted in (NUL, zero-width, bidi overrides,
# combining marks, emoji).
ODD = "\x00\u200b\u200d\u202e\u2066\ufeff\u0301\U0001f600\U0001d54f\u00e9\u4e2d"
chars = st.characters(exclude_categories=("Cs",)) | st.sampled_from(ODD)
text = st.text(chars, max_size=40)


def ids() -> st.SearchStrategy[str]:
    return st.text(chars, min_size=1, max_size=20) | st.sampled_from(["L1", "L2", "lead-é", "r-1"])


# Offsets up to ±23:59, as RFC 3339 allows.
offsets = st.sampled_from(["Z", "z", "+00:00", "-00:00"]) | st.integers(-1439, 1439).map(
    lambda m: f"{'+' if m >= 0 else '-'}{abs(m) // 60:02d}:{abs(m) % 60:02d}"
)


def timestamps(min_year: int = 1971, max_year: int = 2100) -> st.SearchStrategy[str]:
    """RFC 3339 timestamps with an offset, fractions of up to 9 digits."""
    moment = st.datetimes(min_value=datetime(min_year, 1, 2), max_value=datetime(max_year, 12, 30))
    fraction = st.sampled_from(["", ".5", ".123456", ".123456789"])
    sep = st.sampled_from(["T", "t", " "])
    def text_of(at: datetime, s: str, f: str, o: str) -> str:
        return at.strftime("%Y-%m-%d") + s + at.strftime("%H:%M:%S") + f + o

    return st.builds(text_of, moment, sep, fraction, offsets)


# Timestamps the contract refuses: naive, a date, impossible dates, other formats, other types.
bad_timestamps = st.sampled_from(
    [
        "2026-11-20T14:03:00",
        "2026-11-20",
        "2026-13-01T00:00:00Z",
        "2026-02-30T00:00:00Z",
        "2026-11-20T24:00:00Z",
        "2026-11-20T14:03:00+24:00",
        "2026-11-20T14:03:00+0100",
        "20261120T140300Z",
        "Fri, 20 Nov 2026 14:03:00 GMT",
        "0000-01-01T00:00:00Z",
        "",
        "now",
    ]
) | st.one_of(st.integers(), st.floats(allow_nan=False), st.booleans(), st.none(), text)


def _nested(depth: int):
    value: object = "deep"
    for _ in range(depth):
        value = {"x": [value]}
    return value


# Any JSON value, a few of them awkward: huge, deep, or numbers at the edges.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=12,
) | st.sampled_from([2**63, -(2**63) - 1, 10**30, 1e308, -0.0, "x" * 5000, _nested(200)])

CONTENT_TYPES = ["demo_request", "pricing", "webinar", "ebook", "blog"]
OUTCOMES = ["connected", "no_answer", "voicemail", "busy", "bad_number"]


def valid_fields(topic: str) -> st.SearchStrategy[dict]:
    """A valid value of ``topic`` (``lead_id``/``rep_id`` included)."""
    common = {"event_id": ids(), "lead_id": ids(), "occurred_at": timestamps()}
    optional = st.fixed_dictionaries
    if topic == "lead-created":
        return optional(
            {**common, "source": st.text(chars, min_size=1, max_size=20)},
            optional={
                "owner_rep_id": st.sampled_from(["r-1", "r-2", "r-3"]),
                "company_size": st.integers(0, 100_000),
                "industry": st.text(chars, min_size=1, max_size=20),
                "country": st.sampled_from(["US", "DE", "JP"]),
                "persona": st.text(chars, min_size=1, max_size=20),
                "email": st.emails(),
            },
        )
    if topic == "content-downloaded":
        return optional({**common, "content_id": ids(), "content_type": st.sampled_from(CONTENT_TYPES) | ids()})
    if topic == "call-attempt":
        return optional(
            {**common, "rep_id": st.sampled_from(["r-1", "r-2", "r-9"]), "outcome": st.sampled_from(OUTCOMES)},
            optional={"duration_seconds": st.floats(0, 10_000)},
        )
    if topic == "lead-assigned":
        return optional({**common, "rep_id": st.sampled_from(["r-1", "r-2", "r-3"])})
    if topic == "opportunity-created":
        return optional(
            {**common, "amount": st.floats(0, 1e9) | st.integers(0, 10**9)},
            optional={"currency": st.sampled_from(["USD", "EUR"])},
        )
    assert topic == "reps"
    return optional(
        {"rep_id": st.sampled_from(["r-1", "r-2", "r-3", "r-fuzz"]) | ids()},
        optional={
            "team": st.sampled_from(["east", "west"]),
            "timezone": st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Mars/Olympus", ""]),
            "active": st.booleans(),
            "working_hours": st.sampled_from(["09:00-17:00", "22:00-06:00", "17:00-09:00", "9-5", "00:00-00:00"]),
            "working_days": st.lists(st.sampled_from(["mon", "tue", "sat", "sun", "xyz"]), max_size=3),
            "holidays_country": st.sampled_from(["US", "DE", "XX", "ZZZZZZZZZ"]),
            "monthly_workable_target": st.integers(-5, 500),
        },
    )


@st.composite
def broken_fields(draw, topic: str) -> dict:
    """A value of ``topic`` with one field missing, mistyped, oversized or odd,
    or with awkward extra fields (which the contract ignores)."""
    value = draw(valid_fields(topic))
    name = draw(st.sampled_from(sorted(value)))
    how = draw(st.sampled_from(["drop", "retype", "timestamp", "extra", "long"]))
    if how == "drop":
        del value[name]
    elif how == "retype":
        value[name] = draw(json_values)
    elif how == "timestamp" and "occurred_at" in value:
        value["occurred_at"] = draw(bad_timestamps)
    elif how == "extra":
        value[draw(text)] = draw(json_values)
    elif how == "long":
        value[name] = "x" * draw(st.sampled_from([129, 257, 321, 70_000]))
    return value


# Values orjson cannot write but a producer can: NaN and infinities as JSON
# tokens, a byte-order mark, another encoding, truncation, deep nesting.
def raw_values(value: dict) -> st.SearchStrategy[bytes]:
    body = dumps(value)
    return st.sampled_from(
        [
            body.replace(b"}", b', "amount": NaN}', 1),
            body.replace(b"}", b', "duration_seconds": Infinity}', 1),
            body.replace(b"}", b', "company_size": 1e400}', 1),
            b"\xef\xbb\xbf" + body,
            orjson.loads(body).__repr__().encode(),  # Python's repr: single quotes
            body.decode().encode("utf-16"),
            body[: max(1, len(body) // 2)],
            b"[" * 2000 + b"]" * 2000,
            b'{"a":' * 600 + b"1" + b"}" * 600,
            b"null",
            b'"a string"',
            b"42",
            b"",
        ]
    )


def dumps(value: object) -> bytes:
    """JSON as a producer writes it; integers beyond 64 bits and deep nesting
    too (orjson refuses to write those)."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value, ensure_ascii=False).encode()


def _key_for(topic: str, value: object) -> bytes | None:
    if isinstance(value, dict):
        field = value.get("rep_id" if topic == "reps" else "lead_id")
        if isinstance(field, str):
            return field.encode()
    return b"no-id"


@st.composite
def records(draw, topics: tuple[str, ...] = TOPICS):
    """(topic, key, value, headers): valid about half the time."""
    topic = draw(st.sampled_from(topics))
    kind = draw(
        st.sampled_from(["valid"] * 8 + ["broken"] * 4 + ["raw", "bytes", "tombstone", "key", "big"])
    )
    if kind == "valid":
        value = draw(valid_fields(topic))
        data = dumps(value)
    elif kind == "broken":
        value = draw(broken_fields(topic))
        data = dumps(value)
    elif kind == "raw":
        value = draw(valid_fields(topic))
        data = draw(raw_values(value))
    elif kind == "bytes":
        value, data = None, draw(st.binary(max_size=200))
    elif kind == "big":  # over the 64 KiB limit, well-formed otherwise
        value = draw(valid_fields(topic)) | {"padding": "x" * 70_000}
        data = dumps(value)
    elif kind == "tombstone":
        value, data = draw(valid_fields(topic)), None
    else:  # a key that disagrees with the id
        value = draw(valid_fields(topic))
        data = dumps(value)
    key = _key_for(topic, value)
    if kind == "key":
        key = draw(st.none() | st.binary(max_size=8) | st.just(b"someone-else"))
    headers = draw(st.lists(st.tuples(text, st.binary(max_size=16)), max_size=3))
    return topic, key, data, headers


def utc_instants_outside_datetime(offset_minutes: int = 60) -> list[str]:
    """Valid RFC 3339 strings whose UTC instant is before year 1 or after
    year 9999 (a datetime cannot hold it)."""
    offset = timedelta(minutes=offset_minutes)
    early = datetime(1, 1, 1, tzinfo=timezone(offset))
    late = datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(-offset))
    return [early.isoformat(), late.isoformat()]
