"""`skyseal serve` as an operator runs it: a real process on loopback, JSON access log on stderr, clean stop."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import requests
from service_support import make_key

from skyseal.cli import main
from skyseal.config import Settings


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_runs_logs_json_without_keys_and_stops_on_sigterm(tmp_path):
    env = {**os.environ, "SKYSEAL_HOME": str(tmp_path / "home")}
    env.pop("SKYSEAL_CONFIG", None)
    key = make_key(Settings(home=tmp_path / "home"), "generate")  # `keys create` itself is tested in test_service_auth

    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "skyseal", "serve", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "serve did not come up"
            time.sleep(0.3)
        page = requests.get(base + "/", timeout=10)
        assert page.status_code == 200 and "Content-Security-Policy" in page.headers and "server" not in page.headers
        r = requests.post(f"{base}/v1/moderate/prompt", json={"prompt": "a quiet harbour at dawn"}, headers={"X-API-Key": key}, timeout=60)
        assert r.status_code == 200 and r.json()["action"] == "allow"
        assert requests.get(f"{base}/v1/jobs/{'0' * 32}", headers={"X-API-Key": key + "x"}, timeout=10).status_code == 401
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
    # uvicorn shuts down gracefully on SIGTERM, then exits by that signal again.
    assert proc.returncode in (0, -signal.SIGTERM), err[-2000:]
    entries = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    routes = [(e["route"], e["status"]) for e in entries]
    assert ("/v1/moderate/prompt", 200) in routes and ("/v1/jobs/{job_id}", 401) in routes
    assert key.split("_", 2)[2] not in err + out and "quiet harbour" not in err + out
    assert "Traceback" not in err


def test_serve_and_keys_help_show_examples(capsys):
    for argv in (["serve", "--help"], ["keys", "create", "--help"], ["keys", "revoke", "--help"]):
        assert main(argv) == 0
        assert "Example: skyseal" in capsys.readouterr().out
