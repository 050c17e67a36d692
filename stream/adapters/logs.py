"""The worker's log: Faust's text layout or one JSON object per line
(``SLA_LOG_FORMAT``), with anything shaped like an email masked either way.

Masking happens in the formatter, on the finished line, so that no logger
(ours, Faust's, aiokafka's, an exception's text) can print an email whatever
it was given. Faust (mode) sets logging up when the worker starts;
``log_config`` is merged into its configuration, replacing only its
formatters, so ``-l``/``--logfile`` keep working.
"""

from __future__ import annotations

import logging
import sys
import time
from datetime import UTC, datetime
from typing import Any

import orjson
from mode.utils.logging import (
    DEFAULT_COLOR_FORMAT,
    DEFAULT_COLORS,
    DEFAULT_FORMAT,
    DefaultFormatter,
    ExtensionFormatter,
)

from schemas.personal import redact_emails


class TextFormatter(DefaultFormatter):
    """Faust's plain layout (log files, pipes)."""

    def format(self, record: logging.LogRecord) -> str:
        return redact_emails(super().format(record))


class ColorFormatter(ExtensionFormatter):
    """Faust's coloured layout (a terminal)."""

    def format(self, record: logging.LogRecord) -> str:
        return redact_emails(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts (UTC, RFC 3339), level, logger, pid,
    message, and exception/stack when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
            "message": redact_emails(record.getMessage()),
        }
        data = getattr(record, "data", None)  # mode's structured extras
        if data:
            entry["data"] = redact_emails(str(data))
        if record.exc_info:
            entry["exception"] = redact_emails(self.formatException(record.exc_info))
        if record.stack_info:
            entry["stack"] = redact_emails(self.formatStack(record.stack_info))
        return orjson.dumps(entry, default=str).decode()


def formatters(log_format: str) -> dict[str, dict[str, Any]]:
    """dictConfig formatters under mode's names: ``default`` (files) and ``colored`` (streams)."""
    if log_format == "json":
        json = {"()": f"{__name__}.JsonFormatter"}
        return {"default": json, "colored": json}
    return {
        "default": {"()": f"{__name__}.TextFormatter", "format": DEFAULT_FORMAT},
        "colored": {"()": f"{__name__}.ColorFormatter", "format": DEFAULT_COLOR_FORMAT, "log_colors": DEFAULT_COLORS},
    }


def log_config(log_format: str) -> dict[str, Any]:
    """Faust's ``logging_config``: merged into mode's own (levels, handlers, files)."""
    return {"version": 1, "merge": True, "disable_existing_loggers": False, "formatters": formatters(log_format)}


def setup_early(log_format: str, level: int = logging.WARNING) -> None:
    """Log in the chosen format before Faust sets logging up (the worker's
    start-up checks run first: aiokafka reports there)."""
    formatter = JsonFormatter() if log_format == "json" else TextFormatter(DEFAULT_FORMAT)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    logging.root.handlers[:] = [handler]
    logging.root.setLevel(level)


class Throttle:
    """At most ``limit`` lines per ``seconds`` for one kind of message; the
    first line after a quiet spell says how many were held back. A flood of
    bad input must not flood the log (every record is still dead-lettered)."""

    def __init__(self, logger: logging.Logger, limit: int = 20, seconds: float = 60.0, clock=time.monotonic) -> None:
        self.logger, self.limit, self.seconds, self.clock = logger, limit, seconds, clock
        self.window_start = -float("inf")
        self.logged = self.held = 0

    def warning(self, message: str, *args: Any) -> None:
        now = self.clock()
        if now - self.window_start >= self.seconds:
            if self.held:
                self.logger.warning("%d more such lines were held back in the last %.0f s", self.held, self.seconds)
            self.window_start, self.logged, self.held = now, 0, 0
        if self.logged < self.limit:
            self.logged += 1
            self.logger.warning(message, *args)
        else:
            self.held += 1

