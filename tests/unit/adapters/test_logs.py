"""The worker's log formatters: JSON lines or Faust's text, emails masked either way."""

from __future__ import annotations

import logging
import logging.config

import orjson

from stream.adapters.logs import JsonFormatter, TextFormatter, Throttle, log_config


def record(message: str, *args, exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc else None
    return logging.LogRecord("stream.adapters.agents", logging.WARNING, __file__, 1, message, args, exc_info)


def test_json_lines_carry_time_level_logger_and_message():
    line = JsonFormatter().format(record("dead-letter %s[%s]@%s: %s", "lead-created", 3, 17, "not JSON"))
    entry = orjson.loads(line)
    assert "\n" not in line
    assert entry["level"] == "WARNING" and entry["logger"] == "stream.adapters.agents"
    assert entry["message"] == "dead-letter lead-created[3]@17: not JSON"
    assert entry["ts"].endswith("Z") and isinstance(entry["pid"], int)


def test_emails_are_masked_in_messages_and_exceptions():
    try:
        raise ValueError("bad lead for jane.doe@acme.test")
    except ValueError as exc:
        failure = exc
    json_line = JsonFormatter().format(record("lead %s", "jane.doe@acme.test", exc=failure))
    text_line = TextFormatter("%(message)s %(extra)s").format(record("lead %s", "jane.doe@acme.test", exc=failure))
    for line in (json_line, text_line):
        assert "jane.doe@acme.test" not in line
        assert "j***@acme.test" in line
    assert "ValueError" in orjson.loads(json_line)["exception"]


def test_the_config_replaces_only_modes_formatters():
    for fmt, cls in (("json", "JsonFormatter"), ("text", "TextFormatter")):
        config = log_config(fmt)
        assert config["merge"] is True
        assert set(config) == {"version", "merge", "disable_existing_loggers", "formatters"}
        assert config["formatters"]["default"]["()"].endswith(cls)
        # dictConfig accepts it as mode merges it (handlers and levels are mode's).
        merged = {k: v for k, v in config.items() if k != "merge"}
        logging.config.dictConfig({**merged, "handlers": {}, "root": {"level": "WARNING", "handlers": []}})


def test_throttle_logs_at_most_limit_lines_then_says_how_many_it_held_back(caplog):
    now = [0.0]
    throttle = Throttle(logging.getLogger("t"), limit=3, seconds=60, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="t"):
        for i in range(10):
            throttle.warning("bad %d", i)
        assert [r.getMessage() for r in caplog.records] == ["bad 0", "bad 1", "bad 2"]
        now[0] = 61
        throttle.warning("bad %d", 10)
    assert [r.getMessage() for r in caplog.records][3:] == [
        "7 more such lines were held back in the last 60 s",
        "bad 10",
    ]
