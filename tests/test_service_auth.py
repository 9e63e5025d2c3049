"""API keys: hashed at rest, scopes enforced (401/403), per-key rate limits (429), never echoed or logged."""

import json
import logging
import sqlite3

import pytest
from fastapi.testclient import TestClient
from service_support import make_key, service_settings

from skyseal.cli import main
from skyseal.service import create_app
from skyseal.service.context import service_db

@pytest.fixture
def settings(tmp_path):
    return service_settings(tmp_path / "home", default_rate_per_minute=1000)


@pytest.fixture
def client(settings):
    with TestClient(create_app(settings)) as c:
        yield c


def _payload():
    from provenance import make_payload

    return make_payload(1)


ROUTES = [
    ("post", "/v1/generate", {"json": {"prompt": "a red ball"}}, "generate"),
    ("post", "/v1/moderate/prompt", {"json": {"prompt": "a red ball"}}, "generate"),
    ("get", "/v1/jobs/" + "0" * 32, {}, "generate"),
    ("get", "/v1/jobs/" + "0" * 32 + "/video", {}, "generate"),
    ("post", "/v1/detect", {"files": {"file": ("a.mp4", b"x")}}, "detect"),
    ("post", "/v1/verify", {"files": {"file": ("a.mp4", b"x")}}, "detect"),
    ("get", "/v1/ledger/PAYLOAD", {}, "audit"),
]


def _call(client, method, path, kwargs, headers=None):
    return getattr(client, method)(path.replace("PAYLOAD", _payload()), headers=headers or {}, **kwargs)


@pytest.mark.parametrize("method,path,kwargs,scope", ROUTES)
def test_no_key_and_wrong_key_are_401_and_wrong_scope_is_403(client, settings, method, path, kwargs, scope):
    r = _call(client, method, path, kwargs)
    assert r.status_code == 401 and r.json()["error"] == "unauthorized"
    assert r.headers["WWW-Authenticate"] == "Bearer"

    real = make_key(settings, scope)
    forged = real[:-4] + ("AAAA" if not real.endswith("AAAA") else "BBBB")  # right id, wrong secret
    for bad in (forged, "sks_000000000000_" + "a" * 43, "not-a-key", real + "x"):
        r = _call(client, method, path, kwargs, {"X-API-Key": bad})
        assert r.status_code == 401, (bad, r.text)
        assert bad not in r.text

    other = {"generate": "detect", "detect": "audit", "audit": "generate"}[scope]
    r = _call(client, method, path, kwargs, {"X-API-Key": make_key(settings, other)})
    assert r.status_code == 403 and scope in r.json()["message"]

    # The right scope gets past auth (whatever the route then says about the request itself).
    for headers in ({"X-API-Key": real}, {"Authorization": f"Bearer {real}"}, {"X-API-Key": make_key(settings, "admin")}):
        assert _call(client, method, path, kwargs, headers).status_code not in (401, 403)


def test_revoked_key_is_401_and_keys_are_stored_only_as_hashes(client, settings):
    from skyseal.service.keys import KeyStore

    key = make_key(settings, "generate")
    headers = {"X-API-Key": key}
    assert client.post("/v1/moderate/prompt", json={"prompt": "a dog"}, headers=headers).status_code == 200
    with KeyStore(service_db(settings)) as store:
        [record] = [k for k in store.list() if key.startswith(f"sks_{k.id}_")]
        store.revoke(record.id)
    assert client.post("/v1/moderate/prompt", json={"prompt": "a dog"}, headers=headers).status_code == 401

    raw = service_db(settings).read_bytes()
    secret = key.split("_", 2)[2]
    assert secret.encode() not in raw and key.encode() not in raw
    rows = sqlite3.connect(service_db(settings)).execute("SELECT key_hash FROM api_keys").fetchall()
    assert all(len(h) == 64 for (h,) in rows)


def test_per_key_rate_limit_is_429_with_retry_after_and_keys_are_independent(client, settings):
    slow = {"X-API-Key": make_key(settings, "generate", rate=3)}
    fast = {"X-API-Key": make_key(settings, "generate")}
    codes = [client.post("/v1/moderate/prompt", json={"prompt": "a cat"}, headers=slow).status_code for _ in range(5)]
    assert codes == [200, 200, 200, 429, 429]
    r = client.post("/v1/moderate/prompt", json={"prompt": "a cat"}, headers=slow)
    assert r.json()["error"] == "rate_limited" and 1 <= int(r.headers["Retry-After"]) <= 60
    assert client.post("/v1/moderate/prompt", json={"prompt": "a cat"}, headers=fast).status_code == 200


def test_access_log_is_structured_names_key_id_not_key_nor_prompt(client, settings, caplog):
    key = make_key(settings, "generate")
    prompt = "a purple kite over a quiet lake"
    with caplog.at_level(logging.INFO, logger="skyseal.service.access"):
        assert client.post("/v1/moderate/prompt", json={"prompt": prompt}, headers={"X-API-Key": key}).status_code == 200
        client.post("/v1/moderate/prompt", json={"prompt": prompt}, headers={"X-API-Key": key + "oops"})
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "skyseal.service.access"]
    assert [(e["route"], e["status"]) for e in lines] == [("/v1/moderate/prompt", 200), ("/v1/moderate/prompt", 401)]
    assert lines[0]["key_id"] and key.startswith(f"sks_{lines[0]['key_id']}_") and lines[0]["duration_ms"] >= 0
    text = caplog.text
    assert key.split("_", 2)[2] not in text and prompt not in text


def test_prompts_are_logged_only_when_configured(tmp_path, caplog):
    settings = service_settings(tmp_path / "home", log_prompts=True)
    key = make_key(settings, "generate")
    with TestClient(create_app(settings)) as c, caplog.at_level(logging.INFO, logger="skyseal.service.access"):
        c.post("/v1/moderate/prompt", json={"prompt": "a purple kite"}, headers={"X-API-Key": key})
    [entry] = [json.loads(r.getMessage()) for r in caplog.records if r.name == "skyseal.service.access"]
    assert entry["prompt"] == "a purple kite"


def test_unexpected_errors_are_500_without_trace_path_or_key(client, settings, monkeypatch):
    key = make_key(settings, "audit")
    ledger = client.app.state.ctx.shared()["ledger"]

    def explode(payload):
        raise RuntimeError(f"disk error at {settings.home}/ledger.sqlite for {key}")

    monkeypatch.setattr(ledger, "by_payload", explode)
    # Without `with`: the app is already started by `client`; this client only skips re-raising.
    r = TestClient(client.app, raise_server_exceptions=False).get(f"/v1/ledger/{_payload()}", headers={"X-API-Key": key})
    assert r.status_code == 500
    body = r.text
    assert "Traceback" not in body and str(settings.home) not in body and key not in body and "RuntimeError" not in body
    assert r.json()["request_id"] == r.headers["x-request-id"]


def test_validation_errors_do_not_echo_the_input(client, settings):
    key = make_key(settings, "generate")
    secretish = "my very private prompt " * 200  # over the 2000-character limit
    r = client.post("/v1/generate", json={"prompt": secretish}, headers={"X-API-Key": key})
    assert r.status_code == 422 and "private prompt" not in r.text
    assert r.json()["problems"][0]["loc"] == ["body", "prompt"]


def test_cors_is_off_by_default_and_on_for_named_origins(client, tmp_path):
    preflight = {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    r = client.options("/v1/detect", headers=preflight)
    assert "access-control-allow-origin" not in r.headers
    assert "access-control-allow-origin" not in client.get("/healthz", headers={"Origin": "https://evil.example"}).headers

    settings = service_settings(tmp_path / "home2", cors_origins=["https://tns.example"])
    with TestClient(create_app(settings)) as c:
        ok = c.options("/v1/detect", headers={**preflight, "Origin": "https://tns.example"})
        assert ok.headers["access-control-allow-origin"] == "https://tns.example"
        assert "access-control-allow-origin" not in c.options("/v1/detect", headers=preflight).headers


def test_keys_cli_create_list_revoke(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SKYSEAL_HOME", str(tmp_path / "cli-home"))
    monkeypatch.delenv("SKYSEAL_CONFIG", raising=False)
    assert main(["keys", "create", "analyst", "--scope", "detect", "--scope", "audit", "--rate", "30"]) == 0
    created = json.loads(capsys.readouterr().out)
    assert created["key"].startswith(f"sks_{created['id']}_") and created["scopes"] == ["audit", "detect"]
    assert main(["keys", "list"]) == 0
    listed = capsys.readouterr().out
    assert created["id"] in listed and created["key"] not in listed
    assert main(["keys", "revoke", created["id"]]) == 0
    assert json.loads(capsys.readouterr().out)["revoked_at"]
    assert main(["keys", "create", "x", "--scope", "root"]) == 1
    captured = capsys.readouterr()
    assert "scopes must be some of" in captured.err and "Traceback" not in captured.err
    assert main(["keys", "revoke", "nope"]) == 1
