"""The published wire contract, generated from the models.

``python -m schemas`` writes, beside this module:

- ``<topic>.schema.json``: the JSON Schema (draft 2020-12) of every topic's value;
- ``asyncapi.yaml``: an AsyncAPI 3.0.0 document of every topic, its key and its
  message, whose payloads ``$ref`` those schema files.

Tests fail when the committed files drift from what this module generates.
The YAML is written by a small emitter here (PyYAML is a test dependency only);
the tests check that PyYAML reads it back as the same document.
"""

import json
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from schemas.events import INPUT_MODELS
from schemas.outputs import DeadLetter, LeadScored, SlaBreach
from schemas.reps import RepRecord

HERE = Path(__file__).parent
ASYNCAPI_FILE = "asyncapi.yaml"

# topic name -> model of its value
TOPIC_MODELS: dict[str, type[BaseModel]] = {
    **INPUT_MODELS,
    "reps": RepRecord,
    "lead-scored": LeadScored,
    "sla-breaches": SlaBreach,
    "dead-letter": DeadLetter,
}

INPUT_TOPICS = tuple(INPUT_MODELS)
OUTPUT_TOPICS = ("lead-scored", "sla-breaches", "dead-letter")
EMITTED_TOPIC = "sla-emitted"  # internal: not part of the contract

_LEAD_KEY = "the lead's `lead_id` (UTF-8)"

# topic -> what the Kafka key of its records is
TOPIC_KEYS: dict[str, str] = {
    **{topic: _LEAD_KEY + "; must equal the value's `lead_id`" for topic in INPUT_TOPICS},
    "reps": "the rep's `rep_id` (UTF-8); must equal the value's `rep_id`",
    "lead-scored": _LEAD_KEY,
    "sla-breaches": (
        "the lead's `lead_id` (UTF-8), or the rep's `rep_id` for `marketing_shortfall` breaches"
    ),
    "dead-letter": "the rejected input record's key, byte for byte (absent when the input had none)",
}

TOPIC_DESCRIPTIONS: dict[str, str] = {
    "lead-created": "A lead entered the funnel (form fill, import, event scan ...).",
    "content-downloaded": (
        "A lead downloaded content. Intent for scoring (`demo_request` and `pricing` weigh"
        " most); may make the lead workable and start its response clock, or start a new"
        " clock for a lead already contacted (`response.reengage_content_types`)."
    ),
    "call-attempt": (
        "A rep tried to reach a lead. The first attempt at or after a clock's start stops"
        " it, whatever the outcome; only `connected` counts as a connect."
    ),
    "lead-assigned": "A lead got an owner: `rep_id` owns the lead from `occurred_at` on.",
    "opportunity-created": "A lead became forecasted pipeline.",
    "reps": (
        "The rep roster (compacted): team, time zone, business calendar and monthly"
        " target. Calendar fields left out fall back to the policy's `[calendar]`."
    ),
    "lead-scored": "One record per scoring decision: score 0-100, workable or not, and why.",
    "sla-breaches": (
        "SLA stages as they fall due, on wall-clock time even without new traffic:"
        " `warning`, `breach`, `escalation`, or `retracted` (a late event proved an"
        " earlier breach wrong; `retracts` names its `event_id`). `event_id` is"
        " deterministic, so consumers can dedupe repeats after a restart."
    ),
    "dead-letter": (
        "Every input record that could not be processed, with the reason in words;"
        " `payload` is the raw value as text (base64 when not UTF-8, then"
        " `payload_encoding` is `base64`)."
    ),
}

# One realistic value per topic: published as the messages' examples, and
# parsed by the models in the tests.
EXAMPLES: dict[str, dict[str, Any]] = {
    "lead-created": {
        "event_id": "evt-7f3a2c",
        "lead_id": "lead-000123",
        "occurred_at": "2026-11-20T14:03:00Z",
        "source": "web",
        "owner_rep_id": "r-001",
        "company_size": 250,
        "industry": "software",
        "country": "US",
        "persona": "vp_sales",
        "email": "dana@example.com",
    },
    "content-downloaded": {
        "event_id": "evt-7f3a2d",
        "lead_id": "lead-000123",
        "occurred_at": "2026-11-20T14:05:12.250Z",
        "content_id": "demo-form-2026",
        "content_type": "demo_request",
    },
    "call-attempt": {
        "event_id": "evt-7f3a31",
        "lead_id": "lead-000123",
        "occurred_at": "2026-11-20T09:08:40-05:00",
        "rep_id": "r-001",
        "outcome": "no_answer",
        "duration_seconds": 25,
    },
    "lead-assigned": {
        "event_id": "evt-7f3a2e",
        "lead_id": "lead-000123",
        "occurred_at": "2026-11-20T14:05:30Z",
        "rep_id": "r-001",
    },
    "opportunity-created": {
        "event_id": "evt-80a1f0",
        "lead_id": "lead-000123",
        "occurred_at": "2026-12-02T16:45:00+01:00",
        "amount": 24000,
        "currency": "USD",
    },
    "reps": {
        "rep_id": "r-003",
        "team": "emea",
        "timezone": "Europe/Berlin",
        "active": True,
        "working_hours": "09:00-17:30",
        "working_days": ["mon", "tue", "wed", "thu", "fri"],
        "holidays_country": "DE",
        "holidays": ["2026-12-24", "2026-12-31"],
        "out_of_office": [{"start": "2026-08-03T00:00:00+02:00", "end": "2026-08-15T00:00:00+02:00"}],
        "monthly_workable_target": 120,
    },
    "lead-scored": {
        "event_id": "sc-5b0e4f1c9a7d2e3f8a6b4c1d0e9f7a2b",
        "lead_id": "lead-000123",
        "occurred_at": "2026-11-20T14:05:12.25Z",
        "scored_at": "2026-11-20T14:05:12.41Z",
        "score": 65.0,
        "workable": True,
        "segment": "web|201-1000|vp_sales",
        "reasons": [
            "segment web|201-1000|vp_sales (fit 25.0/50)",
            "downloaded demo_request (+40.0 intent)",
            "score 65.0 >= threshold 50: workable",
        ],
        "rep_id": "r-001",
    },
    "sla-breaches": {
        "event_id": "br-0c1d2e3f4a5b6c7d8e9fa0b1c2d3e4f5",
        "breach_type": "first_response",
        "stage": "breach",
        "lead_id": "lead-000123",
        "rep_id": "r-001",
        "clock_started_at": "2026-11-20T14:05:12.25Z",
        "deadline": "2026-11-20T14:10:12.25Z",
        "detected_at": "2026-11-20T14:10:14.31Z",
        "policy": {"deadline_seconds": 300, "business_hours": True, "allowed_lateness_seconds": 2},
        "lead_score": 65.0,
        "segment": "web|201-1000|vp_sales",
    },
    "dead-letter": {
        "topic": "call-attempt",
        "partition": 3,
        "offset": 18204,
        "key": "lead-000124",
        "received_at": "2026-11-20T14:11:02.007Z",
        "error": "invalid fields: outcome: Input should be 'connected', 'no_answer', 'voicemail', 'busy' or 'bad_number'",
        "payload": (
            '{"event_id":"evt-7f3a40","lead_id":"lead-000124",'
            '"occurred_at":"2026-11-20T14:11:00Z","rep_id":"r-002","outcome":"hung_up"}'
        ),
        "payload_encoding": "utf-8",
    },
}


def schema_text(topic: str) -> str:
    schema = TOPIC_MODELS[topic].model_json_schema(mode="serialization")
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{topic}.schema.json",
        **schema,
    }
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def schema_path(topic: str) -> Path:
    return HERE / f"{topic}.schema.json"


def asyncapi_path() -> Path:
    return HERE / ASYNCAPI_FILE


# -- AsyncAPI ----------------------------------------------------------------------


def _message_name(topic: str) -> str:
    return TOPIC_MODELS[topic].__name__


def _operation_id(action: str, topic: str) -> str:
    return action + "".join(part.capitalize() for part in topic.split("-"))


def _key_schema(topic: str) -> dict[str, Any]:
    if topic == "dead-letter":
        return {"type": "string", "description": TOPIC_KEYS[topic]}
    return {"type": "string", "minLength": 1, "maxLength": 128, "description": TOPIC_KEYS[topic]}


def _channel(topic: str, tag: str) -> dict[str, Any]:
    name = _message_name(topic)
    channel: dict[str, Any] = {
        "address": topic,
        "title": topic,
        "description": (
            TOPIC_DESCRIPTIONS[topic]
            + f" Kafka topic name: `${{SLA_TOPIC_PREFIX}}{topic}`. Key: {TOPIC_KEYS[topic]}."
        ),
        "messages": {name: {"$ref": f"#/components/messages/{name}"}},
        "tags": [{"name": tag}],
    }
    if topic == "reps":
        channel["bindings"] = {
            "kafka": {"topicConfiguration": {"cleanup.policy": ["compact"]}, "bindingVersion": "0.5.0"}
        }
    return channel


def _message(topic: str) -> dict[str, Any]:
    model = TOPIC_MODELS[topic]
    return {
        "name": model.__name__,
        "title": f"{topic} value",
        "summary": TOPIC_DESCRIPTIONS[topic].split(". ")[0].rstrip(".") + ".",
        "contentType": "application/json",
        "payload": {"$ref": f"./{topic}.schema.json"},
        "bindings": {"kafka": {"key": _key_schema(topic), "bindingVersion": "0.5.0"}},
        "examples": [{"name": f"{topic}-example", "payload": EXAMPLES[topic]}],
    }


def _operation(action: str, topic: str, summary: str) -> dict[str, Any]:
    name = _message_name(topic) if topic in TOPIC_MODELS else "SlaEmitted"
    op: dict[str, Any] = {
        "action": action,
        "channel": {"$ref": f"#/channels/{topic}"},
        "summary": summary,
        "messages": [{"$ref": f"#/channels/{topic}/messages/{name}"}],
    }
    if action == "receive":
        op["bindings"] = {
            "kafka": {
                "groupId": {
                    "type": "string",
                    "default": "smarketing-sla",
                    "description": "SLA_APP_ID: the Faust app id, also the consumer group",
                },
                "bindingVersion": "0.5.0",
            }
        }
    return op


_INFO_DESCRIPTION = """\
Wire contract v1 of the Sales & Marketing SLA stream: the topics the service
reads and writes, the Kafka key of each, and the JSON value of each (the JSON
Schema files beside this document, generated from the pydantic models in
`schemas/`).

- Values are UTF-8 JSON objects; keys are UTF-8 strings.
- Timestamps are RFC 3339 with an offset (`2026-11-20T14:03:00Z`); a timestamp
  without one is rejected.
- Unknown extra fields are accepted and ignored (forward compatibility).
- Ids (`event_id`, `lead_id`, `rep_id` ...) are strings of 1 to 128 characters.
- Every topic name is prefixed by `SLA_TOPIC_PREFIX` (default empty), inputs
  included: with `SLA_TOPIC_PREFIX=acme.` the service reads `acme.lead-created`.
- The five lead input topics are keyed by `lead_id` and co-partitioned (same
  partition count, `SLA_PARTITIONS`, default 8). Every producer must use Kafka's
  default murmur2 partitioner (Java clients, aiokafka); librdkafka-based clients
  must set `partitioner=murmur2_random`.
- A repeated `event_id` is a duplicate and changes nothing.
- Any input that cannot be processed goes to `dead-letter` with the reason.

Internal topics, not part of the contract: `sla-emitted` (what the sweeper
emitted, for the partition owning the leads), `sla-segment-stats` (each
partition's live segment evidence, compacted), `sla-marketing-checks` (the
marketing checks made per rep, compacted) and Faust's changelog topic
`<SLA_APP_ID>-leads-changelog`; all are prefixed too."""


def asyncapi_document() -> dict[str, Any]:
    """The AsyncAPI 3.0.0 document of every topic, as plain JSON-compatible data."""
    channels: dict[str, Any] = {}
    for topic in INPUT_TOPICS:
        channels[topic] = _channel(topic, "input")
    channels["reps"] = _channel("reps", "roster")
    for topic in OUTPUT_TOPICS:
        channels[topic] = _channel(topic, "output")
    channels[EMITTED_TOPIC] = {
        "address": EMITTED_TOPIC,
        "title": f"{EMITTED_TOPIC} (internal)",
        "description": (
            "Internal, not part of the contract: may change without notice. The SLA stages the"
            " sweeper emitted, sent to the partition of their leads before the breach events"
            " themselves, so that the leads' states record them. Co-partitioned with the lead"
            f" topics. Kafka topic name: `${{SLA_TOPIC_PREFIX}}{EMITTED_TOPIC}`."
        ),
        "messages": {"SlaEmitted": {"$ref": "#/components/messages/SlaEmitted"}},
        "tags": [{"name": "internal"}],
    }

    operations: dict[str, Any] = {}
    for topic in INPUT_TOPICS:
        operations[_operation_id("receive", topic)] = _operation(
            "receive", topic, f"Consume `{topic}`: validate, dedupe, update the lead, score and run its clocks."
        )
    operations[_operation_id("receive", "reps")] = _operation(
        "receive",
        "reps",
        "Validated once by the group (bad records go to `dead-letter`), and read whole, from the"
        " beginning and without a group, by every worker: any lead may be owned by any rep.",
    )
    summaries = {
        "lead-scored": "Publish every scoring decision.",
        "sla-breaches": "Publish SLA stages (and retractions) as they fall due.",
        "dead-letter": "Publish every input record that could not be processed, with the reason.",
    }
    for topic in OUTPUT_TOPICS:
        operations[_operation_id("send", topic)] = _operation("send", topic, summaries[topic])
    operations[_operation_id("send", EMITTED_TOPIC)] = _operation(
        "send", EMITTED_TOPIC, "Internal: record the stages the sweeper emitted, per partition."
    )
    operations[_operation_id("receive", EMITTED_TOPIC)] = _operation(
        "receive", EMITTED_TOPIC, "Internal: write the emitted stages into the leads' states."
    )

    messages = {_message_name(topic): _message(topic) for topic in TOPIC_MODELS}
    stage = {
        "type": "object",
        "required": ["obligation", "generation", "due", "value"],
        "properties": {
            "obligation": {"type": "string", "description": "the stage's id before any re-fire"},
            "generation": {"type": "integer", "minimum": 0},
            "due": {"type": "number", "description": "epoch seconds the stage fell due"},
            "value": {"$ref": "./sla-breaches.schema.json"},
        },
    }
    messages["SlaEmitted"] = {
        "name": "SlaEmitted",
        "title": f"{EMITTED_TOPIC} value (internal)",
        "contentType": "application/json",
        "payload": {
            "type": "object",
            "required": ["run", "leads"],
            "properties": {
                "run": {"type": "string", "description": "the emitting worker process"},
                "leads": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["lead_id", "emitted"],
                        "properties": {
                            "lead_id": {"type": "string", "minLength": 1, "maxLength": 128},
                            "emitted": {"type": "array", "items": stage},
                        },
                    },
                },
            },
        },
    }

    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Sales & Marketing SLA stream",
            "version": "1.0.0",
            "description": _INFO_DESCRIPTION,
            "license": {"name": "Apache-2.0"},
            "tags": [
                {"name": "input", "description": "lead events the service consumes, keyed by lead_id"},
                {"name": "roster", "description": "the rep roster, keyed by rep_id"},
                {"name": "output", "description": "events the service publishes"},
                {"name": "internal", "description": "not part of the contract"},
            ],
        },
        "defaultContentType": "application/json",
        "servers": {
            "local": {
                "host": "127.0.0.1:9092",
                "protocol": "kafka",
                "description": (
                    "The local single-node Kafka of `deploy/kafka/local.sh start`;"
                    " `SLA_KAFKA_BOOTSTRAP` points the service elsewhere."
                ),
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


# -- a small YAML emitter (block style, for JSON-compatible data) --------------------

# Plain (unquoted) scalars only where YAML 1.1 and 1.2 read them as the same
# string; everything else is double-quoted with YAML escapes.
_PLAIN = re.compile(r"[A-Za-z_$][A-Za-z0-9_.$/-]*")
_RESERVED = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "nan", "inf"}
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _quote(text: str) -> str:
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        else:  # control, format and separator characters YAML would fold or refuse
            code = ord(ch)
            if code < 0x100:
                out.append(f"\\x{code:02x}")
            elif code < 0x10000:
                out.append(f"\\u{code:04x}")
            else:
                out.append(f"\\U{code:08x}")
    return '"' + "".join(out) + '"'


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("JSON has no NaN or infinity")
        text = repr(value)
        mantissa, e, exponent = text.partition("e")
        if e and "." not in mantissa:  # YAML 1.1 floats need the dot: 1e+16 -> 1.0e+16
            text = f"{mantissa}.0e{exponent}"
        return text
    if isinstance(value, str):
        if _PLAIN.fullmatch(value) and value.lower() not in _RESERVED:
            return value
        return _quote(value)
    raise TypeError(f"cannot write {type(value).__name__} as YAML")


def _block_text(value: Any) -> bool:
    """A multi-line string that a literal block (``|-``) carries unchanged."""
    if not isinstance(value, str) or "\n" not in value or value.endswith("\n"):
        return False
    lines = value.split("\n")
    return (
        # The first line sets the block's indentation: it must start with text.
        lines[0][:1] not in ("", " ")
        and all(line == line.rstrip() and line.isprintable() for line in lines)
    )


def _lines(value: Any, indent: int) -> list[str]:
    """``value`` (a dict or list) as block YAML lines at ``indent`` spaces."""
    pad = " " * indent
    out: list[str] = []
    items = value.items() if isinstance(value, dict) else ((None, v) for v in value)
    for key, item in items:
        head = pad + (f"{_scalar(str(key))}:" if key is not None else "-")
        if isinstance(item, (dict, list)) and item:
            if key is None:
                # "- " then the first line of the nested block on the same line.
                nested = _lines(item, indent + 2)
                out.append(head + " " + nested[0].lstrip())
                out.extend(nested[1:])
            else:
                out.append(head)
                out.extend(_lines(item, indent + 2))
        elif isinstance(item, (dict, list)):
            out.append(f"{head} {'{}' if isinstance(item, dict) else '[]'}")
        elif _block_text(item):
            out.append(f"{head} |-")
            out.extend((pad + "  " + line) if line else "" for line in item.split("\n"))
        else:
            out.append(f"{head} {_scalar(item)}")
    return out


def to_yaml(document: dict[str, Any] | list[Any]) -> str:
    """``document`` (JSON-compatible data) as block-style YAML."""
    if not document:
        return ("{}" if isinstance(document, dict) else "[]") + "\n"
    return "\n".join(_lines(document, 0)) + "\n"


def asyncapi_text() -> str:
    header = "# Generated by `python -m schemas` (schemas/generate.py) from the models: do not edit.\n"
    return header + to_yaml(asyncapi_document())


def write_all() -> list[Path]:
    paths = []
    for topic in TOPIC_MODELS:
        path = schema_path(topic)
        path.write_text(schema_text(topic))
        paths.append(path)
    path = asyncapi_path()
    path.write_text(asyncapi_text())
    paths.append(path)
    return paths
