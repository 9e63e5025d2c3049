"""The whole road through the real CLI: generate -> detect, tamper, block, bad input."""

import json
import subprocess
import sys

import pytest

from skyseal.cli import main


def _detect(capsys, path):
    rc = main(["detect", str(path)])
    out = capsys.readouterr()
    return rc, (json.loads(out.out) if rc == 0 else None), out.err


@pytest.fixture(scope="module")
def cli_video(tmp_path_factory):
    """Generate once through the CLI (in a subprocess, as a user would) into a private home."""
    home = tmp_path_factory.mktemp("home")
    out = tmp_path_factory.mktemp("out") / "ball.mp4"
    env = {"SKYSEAL_HOME": str(home), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-m", "skyseal", "generate", "a big green ball bouncing in a forest", "-o", str(out),
                           "--seed", "4", "--json"], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return home, out, json.loads(proc.stdout)


def test_generate_then_detect_round_trip(cli_video, capsys, monkeypatch):
    home, out, result = cli_video
    monkeypatch.setenv("SKYSEAL_HOME", str(home))
    assert result["status"] == "delivered" and out.exists()
    rc, verdict, _ = _detect(capsys, out)
    assert rc == 0
    assert verdict["c2pa"]["state"] == "Trusted"
    assert verdict["watermark"]["found"] and verdict["watermark"]["payload"] == result["payload"]
    assert verdict["ledger"]["kind"] == "sha256" and verdict["ledger"]["payload"] == result["payload"]
    assert verdict["label"] == "generated_here_intact"


def test_tampered_media_data_invalidates_manifest(cli_video, capsys, monkeypatch, tmp_path):
    home, out, result = cli_video
    monkeypatch.setenv("SKYSEAL_HOME", str(home))
    data = bytearray(out.read_bytes())
    mdat = data.find(b"mdat")
    assert mdat > 0
    data[mdat + 64] ^= 0x55  # one byte of the coded video
    tampered = tmp_path / "tampered.mp4"
    tampered.write_bytes(bytes(data))
    rc, verdict, _ = _detect(capsys, tampered)
    assert rc == 0
    assert verdict["c2pa"]["state"] == "Invalid"
    assert "assertion.bmffHash.mismatch" in verdict["c2pa"]["failures"]
    assert verdict["label"] == "generated_here_tampered"


def test_stripped_copy_is_still_recognised_by_watermark(cli_video, capsys, monkeypatch, tmp_path):
    home, out, result = cli_video
    monkeypatch.setenv("SKYSEAL_HOME", str(home))
    from skyseal.media import encode_mp4, read_media

    clip = read_media(out)
    encode_mp4(clip.frames, tmp_path / "reencoded.mp4", fps=clip.fps, crf=12)  # new file: manifest gone
    rc, verdict, _ = _detect(capsys, tmp_path / "reencoded.mp4")
    assert verdict["c2pa"]["state"] == "absent"
    assert verdict["watermark"]["payload"] == result["payload"]
    assert verdict["label"] == "generated_here_credentials_stripped_or_reencoded"


def test_unmarked_video_has_no_evidence(capsys, home, tmp_path):
    import numpy as np

    from skyseal.media import encode_mp4

    frames = np.random.default_rng(0).integers(0, 255, (8, 128, 128, 3), dtype=np.uint8)
    encode_mp4(frames, tmp_path / "camera.mp4")
    rc, verdict, _ = _detect(capsys, tmp_path / "camera.mp4")
    assert rc == 0 and verdict["label"] == "no_evidence_found"
    assert not verdict["watermark"]["found"] and verdict["ledger"]["kind"] == "none"


def test_blocked_prompt_writes_nothing_and_exits_2(home, tmp_path, capsys):
    out = tmp_path / "never.mp4"
    rc = main(["generate", "a nude person on a beach", "-o", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and not out.exists()
    assert "blocked" in err and "sexual" in err
    assert not list(tmp_path.glob("*.mp4")) and not list(tmp_path.glob(".never*"))


@pytest.mark.parametrize("kind", ["empty", "text", "truncated", "missing"])
def test_bad_input_to_detect_is_one_clear_line(cli_video, kind, tmp_path):
    _, out, _ = cli_video
    target = tmp_path / f"{kind}.mp4"
    if kind == "empty":
        target.write_bytes(b"")
    elif kind == "text":
        target.write_text("this is a text file, not a video\n" * 10)
    elif kind == "truncated":
        target.write_bytes(out.read_bytes()[:300])
    proc = subprocess.run([sys.executable, "-m", "skyseal", "detect", str(target)], capture_output=True, text=True,
                          env={"SKYSEAL_HOME": str(tmp_path / "h"), "PATH": "/usr/bin:/bin"}, timeout=120)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), proc.stderr
    assert str(target.name) in lines[0]


def test_version_and_help():
    proc = subprocess.run([sys.executable, "-m", "skyseal", "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("skyseal ")
    for cmd in (["--help"], ["generate", "--help"], ["detect", "--help"]):
        p = subprocess.run([sys.executable, "-m", "skyseal", *cmd], capture_output=True, text=True)
        assert p.returncode == 0 and "Usage" in p.stdout
