"""The ``central-agent`` command: enroll, run, status, check, install-service."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shlex
import signal
import socket
import sys
import time
from dataclasses import replace
from pathlib import Path

from . import __version__
from . import protocol as p
from .config import (
    Config,
    ConfigError,
    check_server,
    load,
    parse_folder,
    write_config,
    write_token,
)

EXIT_STOPPED = 3
"""Exit status when Central refused the agent for good (token revoked, version refused):
the systemd unit lists it in RestartPreventExitStatus so the service does not loop."""


def _load(args) -> Config:
    return load(Path(args.home) if args.home else None)


def _err(message: str) -> None:
    print(f"central-agent: {message}", file=sys.stderr)


# --- enroll ---------------------------------------------------------------------------------


def cmd_enroll(args) -> int:
    import httpx

    from .runtime import os_description

    try:
        check_server(args.url)
        cfg = _load(args)
    except ConfigError as exc:
        _err(str(exc))
        return 2
    request = p.EnrollRequest(code=args.code.strip(), hostname=socket.gethostname(),
                              os=os_description(), version=__version__)
    try:
        response = httpx.post(args.url.rstrip("/") + p.ENROLL_PATH, json=request.to_dict(),
                              timeout=30, verify=not args.insecure)
    except httpx.HTTPError as exc:
        _err(f"cannot reach {args.url}: {exc}")
        return 1
    if response.status_code != 201:
        detail = response.text[:300]
        with contextlib.suppress(ValueError, p.ProtocolError):
            error = p.EnrollError.from_dict(response.json())
            detail = f"{error.error}: {error.detail or ''}".strip(": ")
        _err(f"enrollment refused (HTTP {response.status_code}): {detail}")
        return 1
    try:
        answer = p.EnrollResponse.from_dict(response.json())
    except (ValueError, p.ProtocolError) as exc:
        _err(f"unexpected answer from Central: {exc}")
        return 1
    folders = tuple(parse_folder(f) for f in args.folder) or cfg.folders
    include = tuple(args.include) or cfg.include
    cfg = replace(cfg, server=args.url.rstrip("/"), folders=folders, include=include)
    write_config(cfg)
    write_token(cfg, answer.token)
    print(f"enrolled as {answer.name!r} (agent {answer.agent_id}); token stored in {cfg.token_file} (0600)")
    print(f"configuration: {cfg.config_file}")
    if not cfg.folders:
        print("no folder configured yet: add [[folders]] to the configuration, then `central-agent check`")
    return 0


# --- run ------------------------------------------------------------------------------------


def cmd_run(args) -> int:
    from . import logs
    from .runtime import Agent, AgentStopped

    try:
        cfg = _load(args)
        cfg.check()
    except ConfigError as exc:
        _err(f"configuration error: {exc}")
        return 2
    logs.setup(cfg.log_file, cfg.log_level, stderr=not args.quiet)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, AttributeError, ValueError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        await Agent(cfg, stop_event=stop).run()

    try:
        asyncio.run(main())
    except AgentStopped as exc:
        _err(f"stopped: {exc}")
        return EXIT_STOPPED
    except KeyboardInterrupt:
        pass
    return 0


# --- status ---------------------------------------------------------------------------------


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    if sys.platform == "win32":
        return True  # no cheap check without extra packages; the state field tells
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def cmd_status(args) -> int:
    try:
        cfg = _load(args)
    except ConfigError as exc:
        _err(str(exc))
        return 2
    try:
        status = json.loads(cfg.status_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        print(f"not running (no status in {cfg.status_file})")
        return 1
    state = status.get("state")
    if state not in ("stopped",) and not _alive(status.get("pid")):
        state = f"not running (last state: {state})"
    if args.json:
        print(json.dumps({**status, "state": state}, ensure_ascii=False, indent=1))
        return 0 if status.get("state") == "connected" else 1
    age = time.time() - float(status.get("updated_at") or 0)
    print(f"state:    {state} (updated {age:.0f} s ago)")
    print(f"server:   {status.get('server')}  agent: {status.get('name')} ({status.get('agent_id')})")
    print(f"version:  {status.get('version')}  pid: {status.get('pid')}")
    print(f"files:    {status.get('files')} indexed, {status.get('pending_changes')} changes pending, "
          f"{status.get('active_uploads')} uploads")
    for folder in status.get("folders", []):
        skipped = ", ".join(f"{k}: {v}" for k, v in folder.get("skipped", {}).items()) or "none"
        print(f"folder:   {folder['folder']} = {folder['path']} ({folder['files']} files, "
              f"{folder['bytes']} bytes, {folder['errors']} with errors, skipped {skipped}, "
              f"watch {folder['watch']}{'' if folder['readable'] else ', NOT READABLE'})")
    if status.get("stopped_reason"):
        print(f"stopped:  {status['stopped_reason']}")
    if status.get("last_error"):
        print(f"error:    {status['last_error']}")
    return 0 if status.get("state") == "connected" else 1


# --- check ----------------------------------------------------------------------------------


def cmd_check(args) -> int:
    import httpx

    from .indexer import folder_readable

    ok = True

    def line(good: bool, what: str, detail: str = "") -> None:
        nonlocal ok
        ok = ok and good
        print(f"[{'ok' if good else 'FAIL'}] {what}{': ' + detail if detail else ''}")

    try:
        cfg = _load(args)
        cfg.check()
    except ConfigError as exc:
        line(False, "configuration", str(exc))
        return 1
    line(True, "configuration", str(cfg.config_file))
    try:
        response = httpx.get(cfg.url(p.WHOAMI_PATH), timeout=15, verify=cfg.verify_tls,
                             headers={p.AUTH_HEADER: p.auth_header_value(cfg.token)})
        line(True, "server reachable", cfg.server)
        if response.status_code == 200:
            who = p.WhoAmI.from_dict(response.json())
            line(True, "token valid", f"agent {who.name!r} of {who.organization!r}")
        elif response.status_code in (401, 403):
            line(False, "token valid", p.close_reason(p.CLOSE_TOKEN_INVALID))
        else:
            line(False, "token valid", f"HTTP {response.status_code}")
    except httpx.HTTPError as exc:
        line(False, "server reachable", f"{cfg.server}: {exc}")
    except (ValueError, p.ProtocolError) as exc:
        line(False, "token valid", f"unexpected answer: {exc}")
    for folder in cfg.folders:
        line(folder_readable(folder.path), f"folder {folder.name} readable", folder.path)
    return 0 if ok else 1


# --- install-service ------------------------------------------------------------------------

UNIT = """[Unit]
Description=Central site agent (central-agent)
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
User={user}
Environment=CENTRAL_AGENT_HOME={home}
ExecStart={exec_start}
Restart=on-failure
RestartSec=5
# Exit status 3: Central revoked the token or refused this version; restarting cannot help.
RestartPreventExitStatus={stopped}
NoNewPrivileges=true
ProtectSystem=full
PrivateTmp=true
ReadWritePaths={home}

[Install]
WantedBy=multi-user.target
"""


def service_unit(cfg: Config, user: str) -> str:
    exec_start = " ".join(shlex.quote(x) for x in (sys.executable, "-m", "central_agent", "run", "--quiet"))
    return UNIT.format(user=user, home=cfg.home, exec_start=exec_start, stopped=EXIT_STOPPED)


def cmd_install_service(args) -> int:
    try:
        cfg = _load(args)
    except ConfigError as exc:
        _err(str(exc))
        return 2
    if sys.platform == "win32":
        print("Windows: run the agent as a service with a service wrapper, for example NSSM:")
        print(f'  nssm install central-agent "{sys.executable}" -m central_agent run --quiet')
        print(f'  nssm set central-agent AppEnvironmentExtra CENTRAL_AGENT_HOME="{cfg.home}"')
        print("  nssm start central-agent")
        print("(docs/site-agent.md describes this and the alternatives)")
        return 0
    user = args.user or os.environ.get("SUDO_USER") or os.environ.get("USER") or "root"
    unit = service_unit(cfg, user)
    if args.print:
        print(unit, end="")
        return 0
    target = Path(args.output)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(unit, encoding="utf-8")
    except OSError as exc:
        _err(f"cannot write {target}: {exc} (run as root, or use --print / --output)")
        return 1
    print(f"wrote {target}")
    print(f"enable it with: systemctl daemon-reload && systemctl enable --now {target.stem}")
    return 0


# --- entry point ----------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="central-agent", description="Central site agent.")
    parser.add_argument("--version", action="version", version=f"central-agent {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, func, help_text: str) -> argparse.ArgumentParser:
        cmd = sub.add_parser(name, help=help_text, description=help_text)
        cmd.add_argument("--home", help="directory of the configuration, token, cache and logs "
                                        "(env CENTRAL_AGENT_HOME)")
        cmd.set_defaults(func=func)
        return cmd

    enroll = add("enroll", cmd_enroll, "exchange a one-time enrollment code for an agent token")
    enroll.add_argument("url", help="Central's address, e.g. https://central.example.com")
    enroll.add_argument("--code", required=True, help="the enrollment code from the dashboard")
    enroll.add_argument("--folder", action="append", default=[],
                        help="folder to watch, PATH or NAME=PATH (repeatable)")
    enroll.add_argument("--include", action="append", default=[], help="file pattern (default *.pdf)")
    enroll.add_argument("--insecure", action="store_true", help=argparse.SUPPRESS)
    run = add("run", cmd_run, "run the agent in the foreground (what the service runs)")
    run.add_argument("--quiet", action="store_true", help="log to the file only, not to stderr")
    status = add("status", cmd_status, "show what the running agent reports")
    status.add_argument("--json", action="store_true")
    add("check", cmd_check, "check the server, the token and the folders")
    service = add("install-service", cmd_install_service, "write a systemd unit (Linux)")
    service.add_argument("--user", help="the user the service runs as (default: you)")
    service.add_argument("--output", default="/etc/systemd/system/central-agent.service")
    service.add_argument("--print", action="store_true", help="print the unit instead of writing it")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
