"""JSON Schema files for every topic's value, generated from the models."""

import json
from pathlib import Path

from pydantic import BaseModel

from schemas.events import INPUT_MODELS
from schemas.outputs import DeadLetter, LeadScored, SlaBreach
from schemas.reps import RepRecord

HERE = Path(__file__).parent

# topic name -> model of its value
TOPIC_MODELS: dict[str, type[BaseModel]] = {
    **INPUT_MODELS,
    "reps": RepRecord,
    "lead-scored": LeadScored,
    "sla-breaches": SlaBreach,
    "dead-letter": DeadLetter,
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


def write_all() -> list[Path]:
    paths = []
    for topic in TOPIC_MODELS:
        path = schema_path(topic)
        path.write_text(schema_text(topic))
        paths.append(path)
    return paths
