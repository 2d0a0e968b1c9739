"""Logging: text for a terminal, or one JSON object a line for a log pipeline.

The RPC being served and the job it names are context variables, so every line logged while a
request is handled (in the event loop or a pool thread it started) carries them as fields.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging

rpc_method: contextvars.ContextVar[str] = contextvars.ContextVar("rpc_method", default="")
job_id: contextvars.ContextVar[str] = contextvars.ContextVar("job_id", default="")
FORMATS = ("text", "json")
_TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, and method, job_id, error when set."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a line of JSON."""
        line = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, variable in (("method", rpc_method), ("job_id", job_id)):
            if value := variable.get():
                line[name] = value
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def configure(level: str, log_format: str) -> None:
    """Send the process's logs to stderr at level, as "text" or "json" lines."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(_TEXT))
    logging.basicConfig(level=level, handlers=[handler], force=True)
