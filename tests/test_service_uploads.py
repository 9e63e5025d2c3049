"""Uploads and server paths for /v1/detect and /v1/verify, on a real server over loopback.

The limit is enforced while the body streams in (413 before the rest is read),
the type comes from the bytes, temp files go away, and paths stay inside the
allowed folders.
"""

import os
import select
import shutil
import socket
import time

import pytest
import requests
from fastapi.testclient import TestClient
from service_support import LiveServer, make_key, service_settings

from skyseal.cli import main
from skyseal.config import ServiceSettings
from skyseal.errors import ConfigError
from skyseal.service import create_app
from skyseal.service.context import service_dir

LIMIT = 256 * 1024


@pytest.fixture(scope="module")
def media_dir(generated, tmp_path_factory):
    """A folder the service may read, holding the real signed clip; a secret file sits beside it."""
    _, result = generated
    root = tmp_path_factory.mktemp("media")
    allowed = root / "allowed"
    allowed.mkdir()
    shutil.copy(result.path, allowed / "clip.mp4")
    shutil.copy(result.path, root / "outside.mp4")
    os.symlink(root / "outside.mp4", allowed / "link-out.mp4")
    return allowed


@pytest.fixture(scope="module")
def live(generated, media_dir):
    settings, _ = generated
    settings = settings.model_copy(update={"service": ServiceSettings(max_upload_bytes=LIMIT, allowed_paths=[media_dir])})
    with LiveServer(settings) as server:
        server.headers = {"X-API-Key": make_key(settings, "detect")}
        yield server


def _uploads_left(live):
    return sorted(p.name for p in live.app.state.ctx.upload_dir.iterdir())


def _raw_request_head(live, extra: str) -> bytes:
    return (f"POST /v1/detect HTTP/1.1\r\nHost: 127.0.0.1:{live.port}\r\nX-API-Key: {live.headers['X-API-Key']}\r\n"
            f"Content-Type: multipart/form-data; boundary=XyZ\r\n{extra}\r\n").encode()


def _read_status(sock, timeout=30.0) -> bytes:
    sock.settimeout(timeout)
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.split(b"\r\n", 1)[0]


def test_declared_oversize_is_413_before_any_body_is_sent(live):
    with socket.create_connection(("127.0.0.1", live.port), timeout=30) as sock:
        sock.sendall(_raw_request_head(live, f"Content-Length: {1 << 30}\r\n"))  # claims 1 GiB, sends nothing
        assert _read_status(sock).startswith(b"HTTP/1.1 413")
    assert _uploads_left(live) == []


def test_streamed_oversize_is_413_long_before_the_whole_body(live):
    """Chunked, no length: the server must stop at the limit, not after reading 128 MiB."""
    total, chunk = 128 << 20, 64 << 10
    part_head = b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="big.mp4"\r\n\r\n'
    sent, status = 0, b""
    with socket.create_connection(("127.0.0.1", live.port), timeout=30) as sock:
        sock.sendall(_raw_request_head(live, "Transfer-Encoding: chunked\r\n"))
        body = part_head + b"\0" * (chunk - len(part_head))
        try:
            while sent < total:
                sock.sendall(b"%x\r\n" % len(body) + body + b"\r\n")
                sent += len(body)
                body = b"\0" * chunk
                readable, _, _ = select.select([sock], [], [], 0)
                if readable:
                    break
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and hung up on the unread rest; its answer is still in our buffer
        status = _read_status(sock)
    # What the client got to send is the server's read plus the kernel's socket buffers, far below the total.
    assert sent < total // 8, f"the client got to send {sent} bytes"
    assert status.startswith(b"HTTP/1.1 413")
    time.sleep(0.2)
    assert _uploads_left(live) == []


def test_oversize_through_an_ordinary_client_is_413(live):
    r = requests.post(f"{live.url}/v1/detect", files={"file": ("big.mp4", b"\0" * (LIMIT + 1))}, headers=live.headers, timeout=60)
    assert r.status_code == 413 and r.json()["error"] == "too_large"


def test_type_is_sniffed_from_bytes_not_the_name(live, generated):
    _, result = generated
    data = result.path.read_bytes()
    r = requests.post(f"{live.url}/v1/detect", files={"file": ("notes.txt", data, "text/plain")}, headers=live.headers, timeout=120)
    assert r.status_code == 200, r.text
    verdict = r.json()
    assert verdict["content_type"] == "video/mp4" and verdict["file"] == "notes.txt"
    assert verdict["label"] == "generated_here_intact" and verdict["c2pa"]["state"] == "Trusted"
    assert verdict["watermark"]["payload"] == result.payload and verdict["ledger"]["kind"] == "sha256"

    for name, payload in (("clip.mp4", b"#!/bin/sh\necho not a video\n" * 40), ("clip.mp4", b"PK\x03\x04" + b"\0" * 600)):
        r = requests.post(f"{live.url}/v1/detect", files={"file": (name, payload, "video/mp4")}, headers=live.headers, timeout=60)
        assert r.status_code == 415, r.text
    assert _uploads_left(live) == []


def test_unreadable_media_is_422_naming_the_upload_not_a_server_path(live, generated):
    _, result = generated
    head = result.path.read_bytes()[:1500]  # an MP4 header with no frames behind it
    r = requests.post(f"{live.url}/v1/detect", files={"file": ("cut.mp4", head)}, headers=live.headers, timeout=60)
    assert r.status_code == 422, r.text
    body = r.text
    assert "cut.mp4" in body and str(live.settings.home) not in body and "upload-" not in body
    assert _uploads_left(live) == []


def test_verify_reports_c2pa_for_an_upload(live, generated):
    _, result = generated
    r = requests.post(f"{live.url}/v1/verify", files={"file": ("c.mp4", result.path.read_bytes())}, headers=live.headers, timeout=60)
    assert r.status_code == 200
    c2pa = r.json()["c2pa"]
    assert c2pa["state"] == "Trusted" and c2pa["watermark_payload"] == result.payload and c2pa["failures"] == []


def test_server_paths_inside_allowed_folders_only(live, media_dir):
    post = lambda path: requests.post(f"{live.url}/v1/detect", json={"path": path}, headers=live.headers, timeout=120)  # noqa: E731
    for good in ("clip.mp4", str(media_dir / "clip.mp4"), "./sub/../clip.mp4"):
        r = post(good)
        assert r.status_code == 200, (good, r.text)
        assert r.json()["label"] == "generated_here_intact" and r.json()["file"] == good
    for bad in ("../outside.mp4", str(media_dir.parent / "outside.mp4"), "link-out.mp4", "/etc/passwd", "../../../../etc/passwd"):
        r = post(bad)
        assert r.status_code == 403, (bad, r.text)
        assert str(media_dir.parent) not in r.json()["message"]
    assert post("missing.mp4").status_code == 404
    assert post("clip\u0000.mp4").status_code == 400
    r = requests.post(f"{live.url}/v1/detect", json={"path": "clip.mp4", "extra": 1}, headers=live.headers, timeout=30)
    assert r.status_code == 422


def test_path_parameters_do_not_traverse(live, generated):
    settings, _ = generated
    admin = {"X-API-Key": make_key(settings, "admin")}
    for path in ("/v1/jobs/..%2F..%2Fservice.sqlite/video", "/v1/jobs/../../etc/passwd", "/v1/ledger/..%2F..%2Fledger.sqlite",
                 "/static/..%2F..%2Fservice%2Fkeys.py", "/static/../config.py"):
        r = requests.get(live.url + path, headers=admin, timeout=30)
        assert r.status_code in (404, 422), (path, r.status_code)
        assert b"SQLite format" not in r.content and b"import" not in r.content


def test_wrong_content_type_is_415(live):
    r = requests.post(f"{live.url}/v1/detect", data=b"\0\0\0", headers={**live.headers, "Content-Type": "video/mp4"}, timeout=30)
    assert r.status_code == 415


def test_json_bodies_declaring_more_than_a_mebibyte_are_413_unread(live):
    with socket.create_connection(("127.0.0.1", live.port), timeout=30) as sock:
        sock.sendall((f"POST /v1/generate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                      f"Content-Length: {50 << 20}\r\n\r\n").encode())
        assert _read_status(sock).startswith(b"HTTP/1.1 413")


def test_chunked_json_bodies_are_cut_off_at_the_limit(live):
    # No Content-Length: the body streams in chunks, and the count stops it past 1 MiB.
    def chunks():
        piece = b'{"prompt": "' + b"a" * 65536
        yield piece
        for _ in range(64):  # 4 MiB more than a prompt could ever need
            yield b"a" * 65536

    headers = {"X-API-Key": make_key(live.settings, "generate"), "Content-Type": "application/json"}
    r = requests.post(f"{live.url}/v1/moderate/prompt", data=chunks(), headers=headers, timeout=60)
    assert r.status_code == 413 and r.json()["error"] == "too_large"
    ok = requests.post(f"{live.url}/v1/moderate/prompt", data=iter([b'{"prompt": "a red ball ', b'rolling"}']),
                       headers=headers, timeout=60)
    assert ok.status_code == 200 and ok.json()["action"] == "allow"


def test_a_second_service_on_one_home_stops_before_touching_the_first_ones_uploads(tmp_path, monkeypatch, capsys):
    # Two services on one home would each clear the other's uploads and both run the unfinished jobs.
    settings = service_settings(tmp_path / "home")
    with TestClient(create_app(settings)) as client:
        receiving = service_dir(settings) / "uploads" / "in-flight.part"
        receiving.write_bytes(b"half an upload")
        with pytest.raises(ConfigError, match=rf"pid {os.getpid()}\).*one service process per home"):
            create_app(settings)
        monkeypatch.setenv("SKYSEAL_HOME", str(settings.home))
        monkeypatch.delenv("SKYSEAL_CONFIG", raising=False)
        assert main(["serve", "--port", "0"]) == 1
        assert "another skyseal service" in capsys.readouterr().err
        assert receiving.read_bytes() == b"half an upload"
        assert client.get("/healthz").status_code == 200
    with TestClient(create_app(settings)) as client:  # the lock went with the first service
        assert client.get("/healthz").status_code == 200
    assert not receiving.exists()  # the new service cleared what the stopped one left
