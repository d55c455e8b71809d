"""Configuration: a TOML file in the agent's home directory, overridden by environment.

One directory holds everything the agent keeps (``agent.toml``, the token file, the index
cache, the status file, the logs), so a service set-up is one path. Environment variables
(``CENTRAL_AGENT_*``) override single settings, for containers and quick tests.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

from . import protocol as p
from .store import create_private_file

CONFIG_NAME = "agent.toml"
TOKEN_NAME = "token"
DB_NAME = "index.db"
STATUS_NAME = "status.json"
LOG_NAME = "agent.log"
WATCH_MODES = ("auto", "native", "polling")
DEFAULT_INCLUDE = ["*.pdf"]


class ConfigError(ValueError):
    """A setting that cannot work; the message says which and why."""


def default_home() -> Path:
    if env := os.environ.get("CENTRAL_AGENT_HOME"):
        return Path(env)
    if sys.platform == "win32":
        return Path(os.environ.get("PROGRAMDATA", r"C:\ProgramData")) / "central-agent"
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return Path("/var/lib/central-agent")
    return Path.home() / ".local" / "share" / "central-agent"


@dataclass(frozen=True)
class Folder:
    name: str  # the wire name (protocol.Change.folder)
    path: str


@dataclass(frozen=True)
class Config:
    home: Path
    server: str = ""
    token: str = ""
    folders: tuple[Folder, ...] = ()
    include: tuple[str, ...] = tuple(DEFAULT_INCLUDE)
    heartbeat: float = p.HEARTBEAT_INTERVAL
    watch: str = "auto"
    settle: float = 2.0  # seconds a new file's size must stay still before it is read
    rescan: float = 3600.0  # full rescan as a safety net for missed events (0 = never)
    poll_interval: float = 5.0  # seconds between polls of a folder watched by polling
    backoff_cap: float = 60.0
    verify_tls: bool = True
    log_level: str = "INFO"
    extra: dict = field(default_factory=dict)

    @property
    def config_file(self) -> Path:
        return self.home / CONFIG_NAME

    @property
    def token_file(self) -> Path:
        return self.home / TOKEN_NAME

    @property
    def db_file(self) -> Path:
        return self.home / DB_NAME

    @property
    def status_file(self) -> Path:
        return self.home / STATUS_NAME

    @property
    def log_file(self) -> Path:
        return self.home / "logs" / LOG_NAME

    def ws_url(self) -> str:
        parts = urlsplit(self.server)
        scheme = {"https": "wss", "http": "ws"}[parts.scheme]
        return f"{scheme}://{parts.netloc}{parts.path.rstrip('/')}{p.WS_PATH}"

    def url(self, path: str) -> str:
        return self.server.rstrip("/") + path

    def check(self, need_token: bool = True) -> None:
        """Raise ConfigError with a clear message if the agent cannot run with this."""
        check_server(self.server)
        if need_token and not self.token:
            raise ConfigError(f"no agent token: run `central-agent enroll URL --code CODE` "
                              f"(or set CENTRAL_AGENT_TOKEN, or write {self.token_file})")
        if not self.folders:
            raise ConfigError("no folder to watch: add [[folders]] to the config or set CENTRAL_AGENT_FOLDERS")
        names = [f.name for f in self.folders]
        if len(set(names)) != len(names):
            raise ConfigError(f"folder names must be unique: {names}")
        if self.heartbeat <= 0 or self.settle < 0 or self.poll_interval <= 0:
            raise ConfigError("heartbeat and poll_interval must be > 0, settle >= 0")
        if self.watch not in WATCH_MODES:
            raise ConfigError(f"watch must be one of {WATCH_MODES}")


def check_server(server: str) -> None:
    parts = urlsplit(server)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"server must be an http(s) URL, got {server!r}")


def folder_name(path: str) -> str:
    """A wire-safe folder name from a path's last part (``/srv/Relatórios`` -> ``Relatrios``)."""
    base = os.path.basename(os.path.normpath(path)) or "folder"
    name = re.sub(r"[^A-Za-z0-9_-]", "", base.replace(" ", "_"))[:64]
    return name or "folder"


def parse_folder(text: str) -> Folder:
    """``name=path`` or just ``path`` (the name then comes from the path)."""
    name, sep, path = text.partition("=")
    if not sep or not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", name):
        name, path = folder_name(text), text
    return Folder(name=name, path=os.path.abspath(os.path.expanduser(path)))


def load(home: Path | None = None, env: dict[str, str] | None = None) -> Config:
    """The configuration: defaults < ``<home>/agent.toml`` < environment."""
    env = dict(os.environ if env is None else env)
    home = Path(env["CENTRAL_AGENT_HOME"]) if home is None and env.get("CENTRAL_AGENT_HOME") else home
    home = home or default_home()
    cfg = Config(home=home)
    data: dict = {}
    if cfg.config_file.exists():
        try:
            data = tomllib.loads(cfg.config_file.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{cfg.config_file}: {exc}") from exc
    values: dict = {}
    for key in ("server", "heartbeat", "watch", "settle", "rescan", "poll_interval", "backoff_cap",
                "verify_tls", "log_level"):
        if key in data:
            values[key] = data[key]
    if "include" in data:
        values["include"] = tuple(data["include"])
    if "folders" in data:
        try:
            values["folders"] = tuple(
                Folder(name=f.get("name") or folder_name(f["path"]), path=str(f["path"]))
                for f in data["folders"]
            )
        except (TypeError, KeyError) as exc:
            raise ConfigError(f"{cfg.config_file}: each [[folders]] needs a path") from exc
    if cfg.token_file.exists():
        values["token"] = cfg.token_file.read_text(encoding="utf-8").strip()
    mapping = {
        "CENTRAL_AGENT_SERVER": ("server", str),
        "CENTRAL_AGENT_HEARTBEAT": ("heartbeat", float),
        "CENTRAL_AGENT_WATCH": ("watch", str),
        "CENTRAL_AGENT_SETTLE": ("settle", float),
        "CENTRAL_AGENT_RESCAN": ("rescan", float),
        "CENTRAL_AGENT_POLL_INTERVAL": ("poll_interval", float),
        "CENTRAL_AGENT_BACKOFF_CAP": ("backoff_cap", float),
        "CENTRAL_AGENT_LOG_LEVEL": ("log_level", str),
    }
    for var, (key, kind) in mapping.items():
        if env.get(var):
            try:
                values[key] = kind(env[var])
            except ValueError as exc:
                raise ConfigError(f"{var}: {exc}") from exc
    if env.get("CENTRAL_AGENT_TOKEN_FILE"):
        values["token"] = Path(env["CENTRAL_AGENT_TOKEN_FILE"]).read_text(encoding="utf-8").strip()
    if env.get("CENTRAL_AGENT_TOKEN"):
        values["token"] = env["CENTRAL_AGENT_TOKEN"].strip()
    if env.get("CENTRAL_AGENT_FOLDERS"):
        values["folders"] = tuple(parse_folder(x) for x in env["CENTRAL_AGENT_FOLDERS"].split(os.pathsep) if x)
    if env.get("CENTRAL_AGENT_INCLUDE"):
        values["include"] = tuple(x.strip() for x in env["CENTRAL_AGENT_INCLUDE"].split(",") if x.strip())
    try:
        cfg = replace(cfg, **values)
        cfg = replace(cfg, heartbeat=float(cfg.heartbeat), settle=float(cfg.settle),
                      rescan=float(cfg.rescan), poll_interval=float(cfg.poll_interval),
                      verify_tls=bool(cfg.verify_tls))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{cfg.config_file}: {exc}") from exc
    return cfg


def _toml_str(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def write_config(cfg: Config) -> None:
    """Write ``agent.toml`` (no secrets in it: the token lives in its own 0600 file)."""
    lines = [
        "# central-agent configuration (docs/site-agent.md). The token is in the file `token`.",
        f"server = {_toml_str(cfg.server)}",
        f"heartbeat = {cfg.heartbeat}",
        f"include = [{', '.join(_toml_str(x) for x in cfg.include)}]",
        f"watch = {_toml_str(cfg.watch)}",
        f"settle = {cfg.settle}",
        f"rescan = {cfg.rescan}",
        "",
    ]
    for folder in cfg.folders:
        lines += ["[[folders]]", f"name = {_toml_str(folder.name)}", f"path = {_toml_str(folder.path)}", ""]
    cfg.home.mkdir(parents=True, exist_ok=True)
    cfg.config_file.write_text("\n".join(lines), encoding="utf-8")


def write_token(cfg: Config, token: str) -> None:
    """Store the token readable by the agent's user only (0600, created before writing)."""
    create_private_file(cfg.token_file)
    with open(cfg.token_file, "w", encoding="utf-8") as fh:
        fh.write(token + "\n")
