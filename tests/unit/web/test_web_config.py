"""[web]: where the console listens; beyond loopback only with TLS."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomli_w

from ats import config


def home_with(tmp_path: Path, web: dict[str, object]) -> Path:
    home = tmp_path / "h"
    home.mkdir()
    (home / "ats.toml").write_text(tomli_w.dumps({"web": web}))
    return home


def test_the_console_listens_on_loopback_8765_by_default(tmp_path: Path) -> None:
    cfg = config.init_home(tmp_path / "h")
    assert cfg.web_url == "http://127.0.0.1:8765/"
    assert cfg.effective()["web"] == {"host": "127.0.0.1", "port": 8765, "tls_cert": "",
                                      "tls_key": "", "url": "http://127.0.0.1:8765/"}


def test_a_non_loopback_host_without_tls_is_refused_naming_the_fix(tmp_path: Path) -> None:
    with pytest.raises(config.ConfigError, match=r"\[web\] host '0.0.0.0' is not a loopback "
                       r"address.*set \[web\] tls_cert and tls_key"):
        config.load(home_with(tmp_path, {"host": "0.0.0.0"}))


def test_a_non_loopback_host_with_tls_files_is_served_over_https(tmp_path: Path) -> None:
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    cert.write_text("x")
    key.write_text("x")
    cfg = config.load(home_with(tmp_path, {"host": "10.0.0.5", "port": 9443,
                                           "tls_cert": str(cert), "tls_key": str(key)}))
    assert cfg.web_url == "https://10.0.0.5:9443/"


def test_tls_files_must_exist_and_come_in_pairs(tmp_path: Path) -> None:
    with pytest.raises(config.ConfigError, match="tls_cert and tls_key must be set together"):
        config.load(home_with(tmp_path, {"tls_cert": "/nope.pem"}))


def test_a_bad_port_is_refused_by_the_schema(tmp_path: Path) -> None:
    with pytest.raises(config.ConfigError, match=r"\[web\] port must be an integer 1..65535"):
        config.load(home_with(tmp_path, {"port": 70000}))
