"""Helpers for the service tests: settings, keys, a real uvicorn server on loopback, job polling."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import requests

from skyseal.config import ServiceSettings, Settings
from skyseal.service import create_app
from skyseal.service.context import service_db
from skyseal.service.keys import KeyStore

PROMPT = "a big green ball bouncing in a forest"


def service_settings(home: Path, **service) -> Settings:
    return Settings(home=home, service=ServiceSettings(**service))


def make_key(settings: Settings, *scopes: str, rate: int | None = None, name: str = "test") -> str:
    with KeyStore(service_db(settings)) as store:
        key, _ = store.create(name, list(scopes), rate)
    return key


class LiveServer:
    """``create_app(settings)`` under uvicorn in a thread, on a free loopback port; stops on exit."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.app = create_app(settings)
        self.url = ""

    def __enter__(self) -> "LiveServer":
        import uvicorn

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        # A long keep-alive: with uvicorn's 5 s, a client reusing a connection the server has just closed
        # fails its request at random (a client-side race, not a service fault).
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=60,
                                timeout_keep_alive=300)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 120
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the service did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(120)
        assert not self.thread.is_alive(), "the service did not stop"


def wait_job(get, url: str, headers: dict, timeout: float = 120.0) -> dict:
    """Poll a job until it is finished; ``get`` is requests.get or a TestClient's get."""
    deadline = time.monotonic() + timeout
    while True:
        job = get(url, headers=headers).json()
        if job["status"] not in ("queued", "running"):
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {url} still {job['status']} after {timeout} s")
        time.sleep(0.25)


def submit(base: str, headers: dict, prompt: str = PROMPT, seed: int | None = None, tries: int = 240) -> dict:
    """POST /v1/generate, honouring 429 Retry-After (bounded), and return the 202 body."""
    body = {"prompt": prompt} if seed is None else {"prompt": prompt, "seed": seed}
    for _ in range(tries):
        r = requests.post(f"{base}/v1/generate", json=body, headers=headers, timeout=30)
        if r.status_code == 202:
            return r.json()
        assert r.status_code == 429, r.text
        time.sleep(min(float(r.headers["Retry-After"]), 0.5))
    raise AssertionError("the queue never had room")
