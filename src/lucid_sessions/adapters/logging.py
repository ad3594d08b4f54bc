"""structlog configured for one JSON object per line on stdout.

Standard-library records (the application layer logs through `logging`, with its fields in
`extra`) are rendered the same way: their `extra` fields become keys of the JSON object.
"""

from __future__ import annotations

import logging
import sys

import structlog

__all__ = ["configure_logging"]


def _drop_color_message(
    _logger: object, _name: str, event: structlog.types.EventDict
) -> structlog.types.EventDict:
    """uvicorn passes a terminal-coloured copy of its message as an extra: not for JSON."""
    event.pop("color_message", None)
    return event


class _StdoutLogger:
    """Writes each rendered line to the current `sys.stdout` (looked up at every write, so
    a replaced stdout, as under a test runner, is followed) and keeps the name it was asked
    for, which becomes `logger` in the JSON."""

    def __init__(self, name: str) -> None:
        self.name = name

    def msg(self, message: str) -> None:
        out = sys.stdout
        out.write(message + "\n")  # one call: lines of several threads never interleave
        out.flush()

    log = debug = info = warning = warn = error = critical = exception = fatal = msg


def _named(*args: object) -> _StdoutLogger:
    return _StdoutLogger(str(args[0]) if args else "")


def _add_logger_name(
    logger: object, _name: str, event: structlog.types.EventDict
) -> structlog.types.EventDict:
    event["logger"] = getattr(logger, "name", "")
    return event


def configure_logging(level: str = "INFO") -> None:
    """structlog loggers (the adapters' own, the request log line) render and write
    directly: no stdlib `logging` record, handler or formatter on the way, which per request
    costs more than the rest of the line. Records of the standard library's `logging` (the
    application layer, uvicorn) go through one handler that renders them the same way."""
    numeric = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    timestamper = structlog.processors.TimeStamper(fmt="iso", utc=True)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            _add_logger_name,
            timestamper,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=_named,
        cache_logger_on_first_use=False,  # a reconfiguration (tests) reaches every logger
    )
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        timestamper,
    ]
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder(), _drop_color_message],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                structlog.processors.JSONRenderer(),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
