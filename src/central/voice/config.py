"""Voice configuration as plain data, and its JSON snapshot.

The voice process must keep answering calls when the database is down, so the loader
writes every configuration it reads to a local JSON snapshot (tmp file + ``os.replace``,
atomic on POSIX) and starts from that snapshot when the database cannot be read.  No
Django here: the database loader lives in :mod:`central.voice.loader`.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

#: Ports of the compatibility pair started when nothing is configured (the legacy
#: prototype listened on 8080 for visitors and 8081 for the resident's return leg).
COMPAT_PORT = 8080
COMPAT_RETURN_PORT = 8081


@dataclass(frozen=True)
class ResidentConfig:
    name: str
    extension: str  # dial string or extension, e.g. "PJSIP/1101" or "1101"


@dataclass(frozen=True)
class UnitConfig:
    number: str
    block: str = ""
    residents: tuple[ResidentConfig, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.number} bloco {self.block}" if self.block else self.number


@dataclass(frozen=True)
class ExtensionConfig:
    number: str
    return_number: str = ""
    bind_ip: str = "127.0.0.1"
    port: int = COMPAT_PORT
    return_port: int = COMPAT_RETURN_PORT
    organization: str = ""
    organization_id: int | None = None
    greeting: str = "Olá! Aqui é a portaria virtual."
    instructions: str = ""
    providers: dict = field(default_factory=dict, hash=False, compare=True)
    enabled: bool = True
    concierge_extension: str = ""  # human concierge for transfers
    units: tuple[UnitConfig, ...] = ()

    def listener_key(self) -> tuple[str, int, int]:
        """What a listener restart depends on; other fields are swapped in place."""
        return (self.bind_ip, self.port, self.return_port)


@dataclass(frozen=True)
class VoiceConfig:
    extensions: tuple[ExtensionConfig, ...] = ()
    source: str = "empty"  # "database", "snapshot", "compat", "file"

    def enabled(self) -> list[ExtensionConfig]:
        return [e for e in self.extensions if e.enabled]


#: Where the compatibility pair listens.  Loopback: an installation that configured no AI
#: extension must not open AudioSocket ports to the network (an extension's own
#: ``bind_ip`` decides where a configured one listens).
COMPAT_BIND_IP = "127.0.0.1"


def compat_config(bind_ip: str = COMPAT_BIND_IP, port: int = COMPAT_PORT,
                  return_port: int = COMPAT_RETURN_PORT) -> VoiceConfig:
    return VoiceConfig(
        (
            ExtensionConfig(
                number="compat", return_number="compat-retorno", bind_ip=bind_ip,
                port=port, return_port=return_port,
            ),
        ),
        source="compat",
    )


def to_dict(config: VoiceConfig) -> dict:
    return {"version": 1, "extensions": [asdict(e) for e in config.extensions]}


def from_dict(data: dict, source: str = "snapshot") -> VoiceConfig:
    exts = []
    for raw in data.get("extensions", []):
        raw = dict(raw)
        units = tuple(
            UnitConfig(
                number=str(u["number"]),
                block=str(u.get("block", "")),
                residents=tuple(ResidentConfig(**r) for r in u.get("residents", [])),
            )
            for u in raw.pop("units", [])
        )
        known = {k: v for k, v in raw.items() if k in ExtensionConfig.__dataclass_fields__}
        exts.append(ExtensionConfig(**known, units=units))
    return VoiceConfig(tuple(exts), source=source)


def write_snapshot(config: VoiceConfig, path: str | os.PathLike) -> None:
    """Atomic write: readers see the old file or the new one, never half of one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(to_dict(config), fh, ensure_ascii=False, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_snapshot(path: str | os.PathLike) -> VoiceConfig | None:
    try:
        with open(path) as fh:
            return from_dict(json.load(fh), source="snapshot")
    except FileNotFoundError:
        return None
