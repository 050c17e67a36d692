"""Which dead letters go back, where, with which key and bytes."""

from __future__ import annotations

import base64

import orjson

from stream.service.dead_letters import Filters, Republish, Skip, from_lines, plan

PREFIX = "t1."


def letter(**overrides) -> dict:
    value = {
        "topic": "t1.call-attempt",
        "partition": 3,
        "offset": 17,
        "key": "lead-1",
        "received_at": "2026-11-20T14:00:00Z",
        "error": "key 'lead-1' is on partition 3, expected 1: producers of lead topics must use the murmur2 "
        "partitioner (librdkafka: partitioner=murmur2_random)",
        "payload": '{"event_id": "e1", "lead_id": "lead-1"}',
        "payload_encoding": "utf-8",
    }
    return value | overrides


def test_a_letter_goes_back_to_its_topic_with_its_key_and_bytes():
    item = plan(orjson.dumps(letter()), b"lead-1", PREFIX, Filters())
    assert item == Republish(
        "t1.call-attempt", b"lead-1", b'{"event_id": "e1", "lead_id": "lead-1"}', letter()["error"],
        ("t1.call-attempt", 3, 17),
    )


def test_the_kafka_key_wins_over_the_key_text():
    raw = b"\xff\xfe-not-utf8"
    item = plan(orjson.dumps(letter(key=base64.b64encode(raw).decode())), raw, PREFIX, Filters())
    assert item.key == raw
    from_file = plan(letter(), None, PREFIX, Filters())
    assert from_file.key == b"lead-1"


def test_a_base64_payload_is_decoded_to_the_original_bytes():
    raw = b"\x00\x9f binary"
    item = plan(letter(payload=base64.b64encode(raw).decode(), payload_encoding="base64"), None, PREFIX, Filters())
    assert item.value == raw
    bad = plan(letter(payload="%%%", payload_encoding="base64"), None, PREFIX, Filters())
    assert isinstance(bad, Skip) and "base64" in bad.reason


def test_filters_by_topic_and_error_words():
    wrong_partition = letter()
    invalid = letter(topic="t1.lead-created", error="invalid fields: source: Field required")
    only_calls = Filters(topics=("call-attempt",))
    assert plan(wrong_partition, None, PREFIX, only_calls) is not None
    assert plan(invalid, None, PREFIX, only_calls) is None
    murmur = Filters(errors=("MURMUR2",))
    assert plan(wrong_partition, None, PREFIX, murmur) is not None
    assert plan(invalid, None, PREFIX, murmur) is None
    either = Filters(errors=("murmur2", "field required"))
    assert plan(invalid, None, PREFIX, either) is not None


def test_what_cannot_go_back_is_skipped_with_a_reason():
    tombstone = plan(letter(payload=None), None, PREFIX, Filters())
    assert isinstance(tombstone, Skip) and "tombstone" in tombstone.reason
    elsewhere = plan(letter(topic="other.call-attempt"), None, PREFIX, Filters())
    assert isinstance(elsewhere, Skip) and "not an input topic" in elsewhere.reason
    output = plan(letter(topic="t1.sla-breaches"), None, PREFIX, Filters())
    assert isinstance(output, Skip)
    garbage = plan(b'{"topic": 1}', None, PREFIX, Filters())
    assert isinstance(garbage, Skip) and "not a dead-letter record" in garbage.reason


def test_a_file_of_dead_letters_is_read_line_by_line():
    lines = [(1, orjson.dumps(letter())), (2, b""), (3, b"nope"), (4, b"[1]")]
    items = list(from_lines(lines, PREFIX, Filters()))
    assert [n for n, _ in items] == [1, 3, 4]
    assert isinstance(items[0][1], Republish)
    assert all(isinstance(item, Skip) for _, item in items[1:])
