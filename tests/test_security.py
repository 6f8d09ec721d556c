"""Exposure: requests for other host names are refused (DNS rebinding); binding wide warns."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dashboard.security import allowed_host, host_name, is_local

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    "header,bound,allow,ok",
    [
        ("127.0.0.1:8050", "127.0.0.1", (), True),
        ("localhost:8050", "127.0.0.1", (), True),
        ("[::1]:8050", "127.0.0.1", (), True),
        ("attacker.example", "127.0.0.1", (), False),
        ("attacker.example:8050", "127.0.0.1", (), False),
        ("lab.example:8050", "127.0.0.1", ("lab.example",), True),
        ("LAB.example", "127.0.0.1", ("lab.example",), True),
        ("192.168.1.9:8050", "0.0.0.0", (), True),  # wide bind: addresses yes, names no
        ("evil.example:8050", "0.0.0.0", (), False),
        ("", "127.0.0.1", (), False),
    ],
)
def test_allowed_host(header, bound, allow, ok):
    assert allowed_host(header, bound, allow) is ok


def test_host_name_strips_port_and_brackets():
    assert host_name("Example.COM:80") == "example.com" and host_name("[::1]:8050") == "::1"


def test_a_rebinding_request_cannot_delete_a_run(tmp_path):
    from dashboard.app import create_app
    from dashboard.config import AppConfig

    config = AppConfig(store_dir=tmp_path / "runs", cache_dir=tmp_path / "cache", data_dir=tmp_path / "data")
    run_id = config.store.save("demo", dataset="digits", config={}, seed=0)
    client = create_app(config).server.test_client()
    assert client.get("/", headers={"Host": "127.0.0.1:8050"}).status_code == 200
    refused = client.post("/_dash-update-component", headers={"Host": "attacker.example"}, json={})
    assert refused.status_code == 403 and b"--allow-host" in refused.data
    assert client.get("/", headers={"Host": "attacker.example:8050"}).status_code == 403
    assert [r.id for r in config.store.list()] == [run_id]


def test_binding_beyond_this_machine_warns(tmp_path):
    assert is_local("127.0.0.1") and is_local("localhost") and not is_local("0.0.0.0")
    out = subprocess.run(
        [
            sys.executable,
            "app.py",
            "--host",
            "0.0.0.0",
            "--dataset",
            "nope",
            "--data-dir",
            str(tmp_path),
            "--store-dir",
            str(tmp_path / "r"),
            "--cache-dir",
            str(tmp_path / "c"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert "exposes LayerScope beyond this machine" in out.stderr
