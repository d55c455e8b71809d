"""JSON logs to a rotated file (and short lines on stderr when run in a terminal)."""

from __future__ import annotations

import json
import logging
import logging.handlers
import sys
import time
from pathlib import Path

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any ``extra`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                data[key] = value
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False, default=str)


def setup(log_file: Path | None, level: str = "INFO", stderr: bool = True,
          max_bytes: int = 10 * 1024 * 1024, backups: int = 5) -> None:
    root = logging.getLogger("central_agent")
    root.setLevel(level.upper())
    root.handlers.clear()
    root.propagate = False
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(
            log_file, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
    if stderr:
        err = logging.StreamHandler(sys.stderr)
        err.setFormatter(JsonFormatter() if not sys.stderr.isatty() else
                         logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        root.addHandler(err)
