"""Structured JSON logs carrying the request id of the request that caused them."""

from __future__ import annotations

import contextvars
import json
import logging
from datetime import UTC, datetime

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "central_request_id", default=None
)


_tenant: contextvars.ContextVar[str | None] = contextvars.ContextVar("central_tenant", default=None)


def set_tenant(slug: str | None) -> contextvars.Token:
    """The organization the current request acts for (log lines carry it as ``tenant``)."""
    return _tenant.set(slug)


def reset_tenant(token: contextvars.Token) -> None:
    _tenant.reset(token)


def current_request_id() -> str | None:
    return _request_id.get()


def set_request_id(value: str | None) -> contextvars.Token:
    return _request_id.set(value)


def reset_request_id(token: contextvars.Token) -> None:
    _request_id.reset(token)


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        # Django logs 4xx/5xx ("Not Found: /x") after the middleware chain returned, when
        # the context variable is reset: the request it passes along still carries the id.
        request = getattr(record, "request", None)
        record.request_id = current_request_id() or getattr(request, "request_id", None)
        if not getattr(record, "tenant", None):
            org = getattr(request, "organization", None)
            record.tenant = _tenant.get() or getattr(org, "slug", None)
        return True


_STD_ATTRS = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message", "request_id", "tenant", "asctime", "color_message", "taskName",
}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: what log shippers (Loki, Elastic, journald) ingest as is."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        rid = getattr(record, "request_id", None)
        if rid:
            entry["request_id"] = rid
        tenant = getattr(record, "tenant", None)
        if tenant:
            entry["tenant"] = tenant
        for key, value in record.__dict__.items():
            if key not in _STD_ATTRS and not key.startswith("_"):
                try:
                    json.dumps(value)
                    entry[key] = value
                except TypeError:
                    entry[key] = repr(value)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)
