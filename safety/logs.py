"""Structured logs: decisions reach the logs as JSON records, reasons included.

The filters log every decision on the ``safety.decisions`` logger with the full record in
``extra={"decision": ...}``.  The composition root installs :class:`JsonFormatter` on its
handler (``use_json_logs()``) so each line is one JSON object.
"""

from __future__ import annotations

import datetime as dt
import json
import logging

# Attributes every LogRecord has; anything else was passed through ``extra=`` and is kept.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message and every ``extra`` field."""

    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": dt.datetime.fromtimestamp(record.created, dt.timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                data[key] = value
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str, ensure_ascii=False)


def use_json_logs(logger: logging.Logger | None = None, level: int = logging.INFO, stream=None) -> logging.Handler:
    """Attach a JSON handler (stderr by default) to ``logger`` (the root logger by default)."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    target = logger or logging.getLogger()
    target.addHandler(handler)
    target.setLevel(level)
    return handler
