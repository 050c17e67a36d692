"""Personal data in the wire contract, marked in one place.

``PERSONAL`` names, per topic, the fields that identify a person and how each
is shown masked. Everything the service shows people (``/sla/leads/{id}``)
masks them; nothing else the service writes (breach events, lead-scored,
metrics, the wallboard) carries them at all, and logs mask anything shaped
like an email whatever field it came from (docs/security.md).

Lead and rep ids are identifiers, shown as they are: producers must not use
an email as an id.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

# Shaped like an email: RFC 5322's characters before the @ (any of them may
# be the first but a dot), Unicode letters included, and a dotted domain after
# it. Wide on purpose: masking a word too many in a log costs nothing. The
# bounds (RFC 5321's 64-character local part and 63-character labels) keep a
# search near linear: a long line without an email must not stall the logger.
EMAIL = re.compile(r"[\w!#$%&'*+/=?^`{|}~-][\w.!#$%&'*+/=?^`{|}~-]{0,63}@[\w-]{1,63}(?:\.[\w-]{1,63})+")


def mask_email(value: str) -> str:
    """``jane.doe@example.com`` -> ``j***@example.com``: the domain (the
    company, for B2B leads) stays readable, the person does not."""
    local, at, domain = value.rpartition("@")
    if not at or not local:
        return mask_whole(value)
    return f"{local[0]}***@{domain}"


def mask_whole(value: Any) -> str:
    return "***"


def is_masked(email: str) -> bool:
    """True for what ``mask_email`` writes (its own output is email-shaped:
    ``*`` may stand in an address)."""
    local = email.rpartition("@")[0]
    return local == "***" or (len(local) == 4 and local.endswith("***"))


# topic -> field -> how its value shows masked
PERSONAL: dict[str, dict[str, Callable[[Any], str]]] = {
    "lead-created": {"email": mask_email},
}


def mask_fields(topic: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` (fields of a ``topic`` event) with the personal ones masked."""
    maskers = PERSONAL.get(topic, {})
    return {
        name: maskers[name](value) if name in maskers and value is not None else value
        for name, value in values.items()
    }


def redact_emails(text: str) -> str:
    """``text`` with anything shaped like an email masked (for logs)."""
    if "@" not in text:  # nearly every log line
        return text
    return EMAIL.sub(lambda match: mask_email(match.group(0)), text)
