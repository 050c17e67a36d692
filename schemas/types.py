"""Field types shared by every model of the wire contract."""

import re
from datetime import datetime, timezone
from typing import Annotated

from pydantic import BeforeValidator, Field, PlainSerializer

# RFC 3339 date-time: an offset (Z or +hh:mm) is mandatory, so every instant
# on the wire is unambiguous.
_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$"
)


MIN_YEAR, MAX_YEAR = 1970, 2199


def parse_timestamp(value: object) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("timestamp must carry an offset")
        return value
    if not isinstance(value, str):
        raise ValueError("timestamp must be an RFC 3339 string")
    if not _RFC3339.match(value):
        raise ValueError("timestamp must be RFC 3339 with an offset, e.g. 2026-11-20T14:03:00Z")
    text = value
    frac = re.search(r"\.(\d+)", text)
    if frac and len(frac.group(1)) > 6:  # datetime keeps microseconds only
        text = text.replace(frac.group(0), "." + frac.group(1)[:6], 1)
    try:
        parsed = datetime.fromisoformat(text.replace("z", "Z").replace("t", "T"))
        utc_year = parsed.astimezone(timezone.utc).year
    except (ValueError, OverflowError) as exc:
        raise ValueError(f"invalid timestamp: {exc}") from None
    # SLA clocks add days of business time to these: keep far from the ends of datetime.
    if not MIN_YEAR <= utc_year <= MAX_YEAR:
        raise ValueError(f"timestamp out of range: {value} (years {MIN_YEAR}-{MAX_YEAR} in UTC)")
    return parsed


def format_timestamp(value: datetime) -> str:
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


Timestamp = Annotated[
    datetime,
    BeforeValidator(parse_timestamp),
    PlainSerializer(format_timestamp, return_type=str, when_used="json"),
    Field(json_schema_extra={"format": "date-time"}),
]
Id = Annotated[str, Field(min_length=1, max_length=128, strict=True)]
Text = Annotated[str, Field(min_length=1, max_length=256, strict=True)]
