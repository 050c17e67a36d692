"""The breach notifier's rules: which ``sla-breaches`` events to post, what
to post, and when to try again (docs/notifier.md).

Pure: no Kafka, no HTTP client, no clock or randomness of its own (callers
pass ``now`` and ``random``). The adapter, ``stream.adapters.notifier``, does
the I/O.

The webhook URL is a secret (a Slack webhook URL is its own credential), so
nothing here puts it into a message.
"""

from __future__ import annotations

import enum
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import orjson

from stream.policy import NotifierPolicy, PolicyError

# Event ids remembered to drop repeats within a run (a crashed worker's
# breaches are emitted again under the same ids, usually within seconds).
RECENT_EVENT_IDS = 10_000
# The first retry waits up to this long; each further one up to twice as long.
BACKOFF_BASE_SECONDS = 0.5


class Action(enum.Enum):
    POST = "post"
    SKIP = "skip"  # filtered out, or not a breach event at all
    DUPLICATE = "duplicate"  # an event_id already posted


class Verdict(enum.Enum):
    SENT = "sent"
    RETRY = "retry"
    REJECTED = "rejected"  # the webhook will never take it: give up on this event


def webhook_url(policy: NotifierPolicy, environ: Mapping[str, str]) -> str:
    """The URL in the environment variable ``notifier.url_env`` names.

    Raises PolicyError naming ``notifier.url_env`` and the variable; never the
    value, which is a secret.
    """
    name = policy.url_env
    value = environ.get(name, "").strip()
    if not value:
        raise PolicyError(
            f"notifier.url_env: the environment variable {name} is not set;"
            " it must hold the webhook's http(s) URL"
        )
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on a port that is not a number
        ok = parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
    except ValueError:
        ok = False
    if not ok:
        raise PolicyError(
            f"notifier.url_env: {name} does not hold an http(s) URL (the value is a secret and not shown)"
        )
    return value


def decode_breach(raw: bytes | None) -> dict | None:
    """The event in a record value, or None when it is not a JSON object with an ``event_id``."""
    if raw is None:
        return None
    try:
        event = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(event, dict):
        return None
    event_id = event.get("event_id")
    if not isinstance(event_id, str) or not event_id:
        return None
    return event


class RecentEvents:
    """The last ``capacity`` event ids handled, least recently used dropped
    first, each with whether it was meant for the webhook."""

    def __init__(self, capacity: int = RECENT_EVENT_IDS) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._wanted: OrderedDict[str, bool] = OrderedDict()

    def remember(self, event_id: str, wanted: bool) -> None:
        self._wanted[event_id] = wanted
        self._wanted.move_to_end(event_id)
        while len(self._wanted) > self.capacity:
            self._wanted.popitem(last=False)

    def wanted(self, event_id: str | None) -> bool | None:
        """True if posted, False if filtered out, None if not known (any more)."""
        if event_id is None or event_id not in self._wanted:
            return None
        self._wanted.move_to_end(event_id)
        return self._wanted[event_id]

    def __contains__(self, event_id: object) -> bool:
        return event_id in self._wanted

    def __len__(self) -> int:
        return len(self._wanted)


class Dispatcher:
    """Decides, record by record in topic order, what to do with each event."""

    def __init__(self, policy: NotifierPolicy, remember: int = RECENT_EVENT_IDS) -> None:
        self.stages = frozenset(policy.stages)
        self.breach_types = frozenset(policy.breach_types)
        self.recent = RecentEvents(remember)

    def _wanted(self, event: dict) -> bool:
        if event.get("stage") not in self.stages or event.get("breach_type") not in self.breach_types:
            return False
        if event.get("stage") == "retracted":
            # Retracting an alert nobody was shown (a warning, when only
            # breaches are posted) would be noise. Unknown: post it.
            return self.recent.wanted(event.get("retracts")) is not False
        return True

    def triage(self, event: dict | None) -> Action:
        if event is None or not self._wanted(event):
            return Action.SKIP
        if self.recent.wanted(event["event_id"]):
            return Action.DUPLICATE
        return Action.POST

    def handled(self, event: dict | None, action: Action) -> None:
        """Record the outcome: call after the post succeeded or was refused for good."""
        if event is not None:
            self.recent.remember(event["event_id"], action is not Action.SKIP)

    def recall(self, event: dict | None) -> None:
        """An event an earlier run already handled (before the committed
        offset): remember it as that run would have, without posting."""
        self.handled(event, self.triage(event))


# -- what is posted ---------------------------------------------------------------------

_STAGE_TITLES = {
    "warning": ":warning: *SLA warning*",
    "breach": ":rotating_light: *SLA breach*",
    "escalation": ":fire: *SLA escalation*",
    "retracted": ":white_check_mark: *SLA alert retracted*",
}
_BREACH_NAMES = {
    "first_response": "first response",
    "attempt_cadence": "attempt cadence",
    "marketing_shortfall": "marketing shortfall",
}


def _escape(text: object) -> str:
    # Slack's mrkdwn treats these three as control characters.
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _code(text: object) -> str:
    return "`" + _escape(text).replace("`", "'") + "`"


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _show_time(value: object) -> str:
    parsed = _parse_time(value)
    if parsed is None:
        return _escape(value)
    return parsed.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def duration_text(seconds: float) -> str:
    """``45s``, ``2m 05s``, ``3h 04m``, ``2d 03h``."""
    whole = int(max(0.0, seconds))
    days, rest = divmod(whole, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def slack_text(event: dict) -> str:
    """A short mrkdwn message for people: what, whose, when due, how late."""
    stage = event.get("stage")
    breach_type = event.get("breach_type")
    title = _STAGE_TITLES.get(stage, f"*SLA {_escape(stage)}*")
    lines = [f"{title}: {_BREACH_NAMES.get(breach_type, _escape(breach_type))}"]
    rep = event.get("rep_id")
    if event.get("lead_id") is not None:
        owner = _code(rep) if rep else "_none_"
        lines.append(f"Lead {_code(event['lead_id'])} · owner {owner}")
    else:
        lines.append(f"Rep {_code(rep)}" if rep else "No rep")
    deadline = event.get("deadline")
    if stage == "retracted":
        lines.append(f"The alert due {_show_time(deadline)} no longer stands: later-arriving events show it was met.")
    elif deadline is not None:
        due = f"Due {_show_time(deadline)}"
        start, detected = _parse_time(deadline), _parse_time(event.get("detected_at"))
        if start is not None and detected is not None and detected >= start:
            due += f" · {duration_text((detected - start).total_seconds())} late"
        lines.append(due)
    details = []
    score = event.get("lead_score")
    if isinstance(score, (int, float)) and not isinstance(score, bool):
        details.append(f"score {score:g}")
    if event.get("segment"):
        details.append(f"segment {_code(event['segment'])}")
    if details:
        text = " · ".join(details)
        lines.append(text[0].upper() + text[1:])
    ids = f"Event {_code(event.get('event_id'))}"
    if stage == "retracted" and event.get("retracts"):
        ids += f" retracts {_code(event['retracts'])}"
    lines.append(ids)
    return "\n".join(lines)


def payload(event: dict, body_format: str) -> bytes:
    """The POST body: ``{"text": ...}`` for "slack", the event itself for "json"."""
    if body_format == "json":
        return orjson.dumps(event)
    return orjson.dumps({"text": slack_text(event)})


def headers(event: dict) -> dict[str, str]:
    # Idempotency-Key lets a receiver that dedupes drop the repeats that
    # at-least-once delivery allows.
    return {
        "Content-Type": "application/json",
        "Idempotency-Key": event["event_id"],
        "User-Agent": "smarketing-sla-notifier",
    }


# -- when to try again ------------------------------------------------------------------


def classify(status: int) -> Verdict:
    """What an HTTP status means for the event (connection errors and
    timeouts, which have no status, are retried)."""
    if 200 <= status < 300:
        return Verdict.SENT
    if status in (408, 429) or 500 <= status < 600:
        return Verdict.RETRY
    # Other 4xx (a revoked webhook, a payload it will never take), and 3xx:
    # redirects are not followed, a moved webhook is a configuration error.
    return Verdict.REJECTED


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """A ``Retry-After`` header (seconds, or an HTTP date) as seconds from ``now``."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # HTTP dates are GMT
            when = when.replace(tzinfo=timezone.utc)
        seconds = when.timestamp() - now
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


def backoff_delay(
    attempt: int, cap: float, random: Callable[[], float], base: float = BACKOFF_BASE_SECONDS
) -> float:
    """Exponential backoff with full jitter: a uniform wait in
    [0, min(cap, base × 2^(attempt-1))) before try ``attempt + 1``."""
    ceiling = min(cap, base * 2 ** min(max(attempt, 1) - 1, 32))
    return random() * ceiling


def retry_delay(
    attempt: int, cap: float, random: Callable[[], float], retry_after: float | None = None
) -> float:
    """How long to wait after failed try number ``attempt`` (1 for the first).

    A Retry-After is honoured (never sooner) but capped at ``cap``, so a
    webhook asking for hours cannot hold back every later breach that long.
    """
    delay = backoff_delay(attempt, cap, random)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return min(cap, delay)
