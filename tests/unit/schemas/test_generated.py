"""The committed contract files (JSON Schema per topic, asyncapi.yaml) are
exactly what the models generate, and the AsyncAPI document is complete."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from schemas.generate import (
    EXAMPLES,
    HERE,
    TOPIC_MODELS,
    asyncapi_document,
    asyncapi_path,
    asyncapi_text,
    schema_path,
    schema_text,
    to_yaml,
)
from stream.adapters.topics import EMITTED, LEAD_INPUTS, OUTPUTS, REPS

REGENERATE = "run `python -m schemas` (or `make schemas`) and commit the result"
INPUTS = list(LEAD_INPUTS)


@pytest.fixture(scope="module")
def doc() -> dict:
    return yaml.safe_load(asyncapi_path().read_text(encoding="utf-8"))


def resolve(document: dict, ref: str):
    """The node at a local JSON pointer such as ``#/components/messages/LeadCreated``."""
    assert ref.startswith("#/"), ref
    node = document
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, f"{ref}: no {part!r}"
        node = node[part]
    return node


def refs(node) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in refs(v)]
    return []


def message_of(document: dict, topic: str) -> dict:
    (message,) = document["channels"][topic]["messages"].values()
    return resolve(document, message["$ref"]) if "$ref" in message else message


# -- drift ---------------------------------------------------------------------------


@pytest.mark.parametrize("topic", list(TOPIC_MODELS))
def test_committed_schema_file_matches_the_model(topic):
    path = schema_path(topic)
    assert path.exists(), f"{path.name} is missing: {REGENERATE}"
    assert path.read_text(encoding="utf-8") == schema_text(topic), (
        f"{path.name} differs from the {TOPIC_MODELS[topic].__name__} model: {REGENERATE}"
    )


def test_no_stale_schema_files():
    committed = {p.name for p in HERE.glob("*.schema.json")}
    expected = {schema_path(t).name for t in TOPIC_MODELS}
    assert committed == expected, f"stale or missing schema files: {REGENERATE}"


def test_committed_asyncapi_matches_the_generator():
    path = asyncapi_path()
    assert path.exists(), f"{path.name} is missing: {REGENERATE}"
    assert path.read_text(encoding="utf-8") == asyncapi_text(), f"{path.name} is out of date: {REGENERATE}"


def test_asyncapi_yaml_reads_back_as_the_generated_document(doc):
    assert doc == asyncapi_document()


@pytest.mark.parametrize("topic", list(TOPIC_MODELS))
def test_schema_files_are_json_schema_2020_12(topic):
    schema = json.loads(schema_path(topic).read_text(encoding="utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"{topic}.schema.json"
    assert schema["type"] == "object"
    assert schema["title"] == TOPIC_MODELS[topic].__name__
    # Forward compatibility: extra fields are allowed at the top level.
    assert schema.get("additionalProperties", True) is not False
    for ref in refs(schema):
        resolve(schema, ref)


def test_schema_files_carry_the_contract_constraints():
    lead = json.loads(schema_path("lead-created").read_text(encoding="utf-8"))
    props = lead["properties"]
    assert set(lead["required"]) == {"event_id", "lead_id", "occurred_at", "source"}
    for field in ("event_id", "lead_id"):
        assert (props[field]["type"], props[field]["minLength"], props[field]["maxLength"]) == ("string", 1, 128)
    assert props["occurred_at"] == {"format": "date-time", "title": "Occurred At", "type": "string"}
    call = json.loads(schema_path("call-attempt").read_text(encoding="utf-8"))
    outcome = call["$defs"][call["properties"]["outcome"]["$ref"].rsplit("/", 1)[1]]
    assert set(outcome["enum"]) == {"connected", "no_answer", "voicemail", "busy", "bad_number"}
    opportunity = json.loads(schema_path("opportunity-created").read_text(encoding="utf-8"))
    assert opportunity["properties"]["amount"]["minimum"] == 0


# -- the AsyncAPI document -------------------------------------------------------------


def test_asyncapi_version_info_and_server(doc):
    assert doc["asyncapi"] == "3.0.0"
    assert doc["info"]["title"] and doc["info"]["version"] == "1.0.0"
    assert doc["defaultContentType"] == "application/json"
    (server,) = doc["servers"].values()
    assert server["host"] == "127.0.0.1:9092"
    assert server["protocol"] == "kafka"


def test_the_contract_topics_are_the_services_topics():
    assert set(TOPIC_MODELS) == {*LEAD_INPUTS, REPS, *OUTPUTS}


def test_every_topic_has_a_channel_at_its_name(doc):
    for topic in TOPIC_MODELS:
        assert topic in doc["channels"], f"no channel for {topic}: {REGENERATE}"
        assert doc["channels"][topic]["address"] == topic


def test_topic_prefix_is_documented(doc):
    assert "SLA_TOPIC_PREFIX" in doc["info"]["description"]
    for topic in TOPIC_MODELS:
        assert f"${{SLA_TOPIC_PREFIX}}{topic}" in doc["channels"][topic]["description"]


def test_the_emitted_topic_is_marked_internal(doc):
    emitted = doc["channels"][EMITTED]
    assert emitted["address"] == EMITTED
    assert {"name": "internal"} in emitted["tags"]
    assert "internal" in emitted["description"].lower()
    assert EMITTED not in TOPIC_MODELS
    assert EMITTED in doc["info"]["description"]


@pytest.mark.parametrize("topic", list(TOPIC_MODELS))
def test_every_message_refs_its_schema_file(doc, topic):
    message = message_of(doc, topic)
    assert message["payload"] == {"$ref": f"./{topic}.schema.json"}
    assert message["contentType"] == "application/json"
    assert message["name"] == TOPIC_MODELS[topic].__name__


@pytest.mark.parametrize(
    "topic,key_field",
    [(t, "lead_id") for t in INPUTS] + [("reps", "rep_id"), ("lead-scored", "lead_id"), ("sla-breaches", "lead_id")],
)
def test_every_message_describes_its_key(doc, topic, key_field):
    key = message_of(doc, topic)["bindings"]["kafka"]["key"]
    assert key["type"] == "string"
    assert (key["minLength"], key["maxLength"]) == (1, 128)
    assert key_field in key["description"]


def test_breach_and_dead_letter_keys(doc):
    breach_key = message_of(doc, "sla-breaches")["bindings"]["kafka"]["key"]["description"]
    assert "rep_id" in breach_key and "marketing_shortfall" in breach_key
    dead_key = message_of(doc, "dead-letter")["bindings"]["kafka"]["key"]
    assert dead_key["type"] == "string" and "input" in dead_key["description"]


def test_reps_channel_is_compacted(doc):
    assert doc["channels"]["reps"]["bindings"]["kafka"]["topicConfiguration"]["cleanup.policy"] == ["compact"]


def test_operations_from_the_services_point_of_view(doc):
    actions: dict[str, set[str]] = {}
    for op in doc["operations"].values():
        topic = op["channel"]["$ref"].removeprefix("#/channels/")
        actions.setdefault(topic, set()).add(op["action"])
    for topic in [*INPUTS, REPS]:
        assert actions[topic] == {"receive"}, topic
    for topic in OUTPUTS:
        assert actions[topic] == {"send"}, topic
    assert actions[EMITTED] == {"send", "receive"}


def test_operation_messages_belong_to_their_channel(doc):
    for name, op in doc["operations"].items():
        channel_ref = op["channel"]["$ref"]
        resolve(doc, channel_ref)
        assert op["messages"], name
        for message in op["messages"]:
            assert message["$ref"].startswith(channel_ref + "/messages/"), name
            resolve(doc, message["$ref"])


def test_every_ref_resolves(doc):
    files = set()
    for ref in refs(doc):
        if ref.startswith("#"):
            resolve(doc, ref)
        else:
            path = (asyncapi_path().parent / ref).resolve()
            assert path.is_file(), f"{ref}: no such file"
            files.add(path.name)
    assert files == {schema_path(t).name for t in TOPIC_MODELS}


# -- examples -------------------------------------------------------------------------


@pytest.mark.parametrize("topic", list(TOPIC_MODELS))
def test_published_examples_parse_with_the_models(doc, topic):
    (example,) = message_of(doc, topic)["examples"]
    assert example["payload"] == EXAMPLES[topic]
    model = TOPIC_MODELS[topic]
    parsed = model.model_validate_json(json.dumps(example["payload"]))
    # Nothing in an example is an ignored extra field.
    assert set(example["payload"]) <= set(parsed.model_dump())
    assert model.model_validate_json(parsed.model_dump_json()) == parsed


@pytest.mark.parametrize("topic", list(TOPIC_MODELS))
def test_examples_validate_against_the_schema_files(topic):
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(schema_path(topic).read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    validator.validate(EXAMPLES[topic])
    required = schema.get("required", [])
    if required:
        broken = {k: v for k, v in EXAMPLES[topic].items() if k != required[0]}
        assert not validator.is_valid(broken)


# -- the YAML emitter ------------------------------------------------------------------

JSON_DATA = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=20,
)


@given(st.dictionaries(st.text(), JSON_DATA, max_size=6))
def test_yaml_emitter_round_trips_json_data(data):
    assert yaml.safe_load(to_yaml(data)) == data


@pytest.mark.parametrize(
    "value",
    ["yes", "No", "on", "OFF", "null", "~", "true", "1.0", "1e3", "0x1F", "12:30", "2026-11-20", "", "#x",
     "a: b", "- a", "[a]", "{a}", "&a", "*a", "!a", "|", ">", "'q'", '"q"', "é", "\x85", "\u2028", "\ufeff",
     "tab\there", "line\n  indented\n\nlast", "\nstarts with a newline", " leading", "trailing ", "ends\n"],
)
def test_yaml_emitter_quotes_what_yaml_would_misread(value):
    data = {value: value, "list": [value, {value: [value]}]}
    assert yaml.safe_load(to_yaml(data)) == data


@pytest.mark.parametrize("value", [1e16, 1e-7, -0.0, 2.5e300, 123456789012345678901234567890])
def test_yaml_emitter_numbers_stay_numbers(value):
    assert yaml.safe_load(to_yaml({"n": value})) == {"n": value}
    assert type(yaml.safe_load(to_yaml({"n": value}))["n"]) is type(value)


def test_schemas_module_writes_every_file(tmp_path, monkeypatch):
    import schemas.generate as generate

    monkeypatch.setattr(generate, "HERE", tmp_path)
    written = generate.write_all()
    assert {p.name for p in written} == {*(f"{t}.schema.json" for t in TOPIC_MODELS), "asyncapi.yaml"}
    for path in written:
        assert Path(path).parent == tmp_path
        committed = HERE / Path(path).name
        assert Path(path).read_text(encoding="utf-8") == committed.read_text(encoding="utf-8")
