"""Agent configuration (file + environment), the systemd unit, ``status`` without a run."""

from __future__ import annotations

import os
import re
import stat

import pytest

from central_agent import cli, config

pytestmark = pytest.mark.backend_free


def test_file_then_environment_override(tmp_path):
    home = tmp_path / "home"
    cfg = config.Config(home=home, server="https://central.example.com",
                        folders=(config.Folder("docs", "/srv/Relatórios"),), include=("*.pdf", "*.PDF"))
    config.write_config(cfg)
    config.write_token(cfg, "tok-1")
    assert stat.S_IMODE(os.stat(cfg.token_file).st_mode) == 0o600
    loaded = config.load(home, env={})
    assert loaded.server == cfg.server and loaded.folders == cfg.folders and loaded.token == "tok-1"
    assert loaded.include == ("*.pdf", "*.PDF") and loaded.heartbeat == 30.0
    env = {"CENTRAL_AGENT_SERVER": "http://127.0.0.1:8000", "CENTRAL_AGENT_TOKEN": "tok-2",
           "CENTRAL_AGENT_FOLDERS": os.pathsep.join(["a=/x", "/srv/Notas Fiscais"]),
           "CENTRAL_AGENT_HEARTBEAT": "5", "CENTRAL_AGENT_INCLUDE": "*.pdf, contratos/*"}
    loaded = config.load(home, env=env)
    assert loaded.server == "http://127.0.0.1:8000" and loaded.token == "tok-2"
    assert loaded.folders == (config.Folder("a", "/x"), config.Folder("Notas_Fiscais", "/srv/Notas Fiscais"))
    assert loaded.heartbeat == 5.0 and loaded.include == ("*.pdf", "contratos/*")
    assert loaded.ws_url() == "ws://127.0.0.1:8000/ws/agent/"
    loaded.check()


@pytest.mark.parametrize("env,message", [
    ({"CENTRAL_AGENT_SERVER": "ftp://x"}, "http(s) URL"),
    ({"CENTRAL_AGENT_SERVER": "https://x"}, "no agent token"),
    ({"CENTRAL_AGENT_SERVER": "https://x", "CENTRAL_AGENT_TOKEN": "t"}, "no folder"),
    ({"CENTRAL_AGENT_SERVER": "https://x", "CENTRAL_AGENT_TOKEN": "t", "CENTRAL_AGENT_FOLDERS": "/a",
      "CENTRAL_AGENT_WATCH": "magic"}, "watch must be"),
])
def test_bad_configuration_is_a_clear_error(tmp_path, env, message):
    with pytest.raises(config.ConfigError, match=re.escape(message)):
        config.load(tmp_path, env=env).check()


def test_broken_toml_is_a_clear_error(tmp_path):
    (tmp_path / config.CONFIG_NAME).write_text("server = 'unterminated\n")
    with pytest.raises(config.ConfigError, match="agent.toml"):
        config.load(tmp_path, env={})


def test_run_without_configuration_exits_2_with_a_message(tmp_path, capsys):
    assert cli.main(["run", "--home", str(tmp_path)]) == 2
    assert "configuration error" in capsys.readouterr().err
    assert cli.main(["status", "--home", str(tmp_path)]) == 1
    assert "not running" in capsys.readouterr().out


def test_install_service_writes_a_systemd_unit(tmp_path, capsys):
    unit_path = tmp_path / "central-agent.service"
    rc = cli.main(["install-service", "--home", str(tmp_path / "home"), "--user", "agente",
                   "--output", str(unit_path)])
    assert rc == 0
    unit = unit_path.read_text()
    assert "User=agente" in unit and f"CENTRAL_AGENT_HOME={tmp_path / 'home'}" in unit
    assert "-m central_agent run --quiet" in unit
    assert f"RestartPreventExitStatus={cli.EXIT_STOPPED}" in unit and "Restart=on-failure" in unit


def test_json_logs_rotate(tmp_path):
    import json
    import logging

    from central_agent import logs

    log_file = tmp_path / "logs" / "agent.log"
    logs.setup(log_file, "INFO", stderr=False, max_bytes=2000, backups=2)
    try:
        log = logging.getLogger("central_agent.test")
        for n in range(100):
            log.info("linha %d", n, extra={"path": "Relatório Março.pdf"})
        lines = log_file.read_text(encoding="utf-8").splitlines()
        record = json.loads(lines[-1])
        assert record["message"] == "linha 99" and record["path"] == "Relatório Março.pdf"
        assert record["level"] == "INFO" and record["time"].endswith("Z")
        assert (tmp_path / "logs" / "agent.log.1").exists() and (tmp_path / "logs" / "agent.log.2").exists()
        assert not (tmp_path / "logs" / "agent.log.3").exists()
    finally:
        logging.getLogger("central_agent").handlers.clear()
        logging.getLogger("central_agent").propagate = True
