"""Each toolkit command on real inputs and on bad ones: JSON out, exit codes, one-line errors."""

import json
import subprocess
import sys

import numpy as np
import pytest

from skyseal.cli import main
from skyseal.media import encode_mp4


def run(capsys, *args):
    rc = main(list(args))
    out = capsys.readouterr()
    return rc, out.out, out.err


def one_line_error(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture(scope="module")
def natural_video(tmp_path_factory):
    """A 256x256 'camera' clip Skyseal did not make: a slow pan over a real photograph."""
    from sklearn.datasets import load_sample_image

    photo = load_sample_image("china.jpg")  # 427 x 640 x 3
    frames = np.stack([photo[80:336, 40 + 8 * i: 296 + 8 * i] for i in range(12)])
    path = tmp_path_factory.mktemp("media") / "camera.mp4"
    encode_mp4(frames, path, fps=12)
    return path


# ------------------------------------------------------------------ moderate

def test_moderate_arguments_in_order(home, capsys):
    rc, out, _ = run(capsys, "moderate", "a red ball bouncing", "a NUDE beach", "joe biden dancing")
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["prompt"] for r in records] == ["a red ball bouncing", "a NUDE beach", "joe biden dancing"]
    assert [r["action"] for r in records] == ["allow", "block", "review"]
    assert all({"prompt", "action", "categories", "reasons"} <= set(r) for r in records)
    assert "sexual" in records[1]["categories"] and records[1]["reasons"]
    assert rc == 2  # a blocked prompt in the batch


def test_moderate_reads_csv_jsonl_text_and_stdin(home, capsys, tmp_path):
    (tmp_path / "p.csv").write_text('id,prompt\n1,"a cat, sleeping"\n2,porn video\n', encoding="utf-8")
    (tmp_path / "p.jsonl").write_text('{"prompt": "a dog running"}\n{"prompt": "gore everywhere"}\n', encoding="utf-8")
    (tmp_path / "p.txt").write_text("a quiet lake\n\nself-harm tutorial\n", encoding="utf-8")
    for name, expected in [("p.csv", ["allow", "block"]), ("p.jsonl", ["allow", "block"]), ("p.txt", ["allow", "block"])]:
        rc, out, _ = run(capsys, "moderate", "--file", str(tmp_path / name))
        assert [json.loads(line)["action"] for line in out.splitlines()] == expected, name
    proc = subprocess.run([sys.executable, "-m", "skyseal", "moderate", "--file", "-"], input="a calm sea\nporn\n",
                          capture_output=True, text=True, timeout=120)
    assert [json.loads(line)["prompt"] for line in proc.stdout.splitlines()] == ["a calm sea", "porn"]
    assert proc.returncode == 2


def test_moderate_many_prompts_batched(home, capsys, tmp_path):
    prompts = [f"a red ball number {i}" if i % 50 else f"nude figure {i}" for i in range(1200)]
    (tmp_path / "many.txt").write_text("\n".join(prompts), encoding="utf-8")
    rc, out, _ = run(capsys, "moderate", "-f", str(tmp_path / "many.txt"))
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["prompt"] for r in records] == prompts
    assert sum(r["action"] == "block" for r in records) == 24


@pytest.mark.parametrize("content,message", [
    (b"prompt_text\nhello\n", "'prompt' column"),
    (b'{"prompt": 3}\n', "string 'prompt'"),
    (b"\xff\xfe\x00bad", "not UTF-8"),
])
def test_moderate_bad_files(home, capsys, tmp_path, content, message):
    suffix = ".jsonl" if content.startswith(b"{") else ".csv" if b"prompt_text" in content else ".txt"
    path = tmp_path / f"bad{suffix}"
    path.write_bytes(content)
    rc, _, err = run(capsys, "moderate", "-f", str(path))
    assert rc == 1 and message in one_line_error(err)


def test_moderate_needs_input(home, capsys, tmp_path):
    rc, _, err = run(capsys, "moderate")
    assert rc == 1 and "no prompts" in one_line_error(err)
    rc, _, err = run(capsys, "moderate", "-f", str(tmp_path / "missing.txt"))
    assert rc == 1 and "no such file" in one_line_error(err)


# ------------------------------------------------------------------ classify

def test_classify_natural_video(home, capsys, natural_video):
    rc, out, _ = run(capsys, "classify", str(natural_video))
    result = json.loads(out)
    assert rc == 0 and result["action"] == "allow"
    assert result["frames_decoded"] == 12 and "sexual" in result["categories"]
    assert set(result["frames"]) <= set(result["categories"])  # frames that drove each category


def test_classify_bad_input(home, capsys, tmp_path):
    (tmp_path / "x.mp4").write_text("not a video")
    rc, _, err = run(capsys, "classify", str(tmp_path / "x.mp4"))
    assert rc == 1 and "x.mp4" in one_line_error(err)


# ------------------------------------------------------------------ watermark

def test_watermark_embed_then_detect_on_foreign_video(home, capsys, natural_video, tmp_path):
    marked = tmp_path / "marked.mp4"
    rc, out, _ = run(capsys, "watermark", "embed", str(natural_video), str(marked), "--payload", "0123456789ab")
    embedded = json.loads(out)
    assert rc == 0 and marked.exists() and len(embedded["payload"]) == 16
    rc, out, _ = run(capsys, "watermark", "detect", str(marked))
    found = json.loads(out)
    assert rc == 0 and found["found"] and found["payload"] == embedded["payload"]
    rc, out, _ = run(capsys, "watermark", "detect", str(natural_video))
    assert rc == 2 and not json.loads(out)["found"]


@pytest.mark.parametrize("payload,message", [("xyz", "not hexadecimal"), ("0123", "12 hex digits"),
                                             ("0123456789abcdef", "CRC")])
def test_watermark_embed_bad_payload(home, capsys, natural_video, tmp_path, payload, message):
    out = tmp_path / "never.mp4"
    rc, _, err = run(capsys, "watermark", "embed", str(natural_video), str(out), "--payload", payload)
    assert rc == 1 and message in one_line_error(err) and not out.exists()


# ------------------------------------------------------------------ sign / verify

def test_sign_and_verify_foreign_video(home, capsys, natural_video, tmp_path):
    signed = tmp_path / "signed.mp4"
    rc, out, _ = run(capsys, "sign", str(natural_video), str(signed), "--source-type", "digitalCapture")
    result = json.loads(out)
    assert rc == 0 and result["state"] == "Trusted" and result["digital_source_type"].endswith("digitalCapture")
    rc, out, _ = run(capsys, "verify", str(signed))
    assert rc == 0 and json.loads(out)["state"] == "Trusted"
    rc, out, _ = run(capsys, "verify", str(natural_video))
    assert rc == 2 and json.loads(out)["state"] == "absent"


def test_sign_bad_inputs(home, capsys, natural_video, tmp_path):
    rc, _, err = run(capsys, "sign", str(tmp_path / "missing.mp4"), str(tmp_path / "o.mp4"))
    assert rc == 1 and "no such file" in one_line_error(err)
    rc, _, err = run(capsys, "sign", str(natural_video), str(tmp_path / "o.mp4"), "--source-type", "madeUp")
    assert rc == 1 and "source type" in one_line_error(err) and not (tmp_path / "o.mp4").exists()
    rc, _, err = run(capsys, "verify", str(tmp_path / "missing.mp4"))
    assert rc == 1 and "no such file" in one_line_error(err)


# ------------------------------------------------------------------ ledger

def test_ledger_show_by_payload_and_hash(generated, capsys, monkeypatch):
    settings, result = generated
    monkeypatch.setenv("SKYSEAL_HOME", str(settings.home))
    rc, out, _ = run(capsys, "ledger", "show", result.payload)
    record = json.loads(out)
    assert rc == 0 and record["sha256"] == result.sha256 and record["model_version"] == result.model_version
    rc, out, _ = run(capsys, "ledger", "show", result.sha256.upper())
    assert rc == 0 and json.loads(out)["payload"] == result.payload
    rc, _, err = run(capsys, "ledger", "show", "0" * 16)
    assert rc == 2 and "no generation" in err
    rc, _, err = run(capsys, "ledger", "show", "not-a-key")
    assert rc == 1 and "neither a payload" in one_line_error(err)


def test_every_command_has_help_with_example():
    for cmd in (["moderate"], ["classify"], ["watermark", "embed"], ["watermark", "detect"], ["sign"], ["verify"],
                ["ledger", "show"]):
        p = subprocess.run([sys.executable, "-m", "skyseal", *cmd, "--help"], capture_output=True, text=True, timeout=60)
        assert p.returncode == 0 and "Example" in p.stdout, cmd


def test_log_json_carries_every_decision_with_its_reasons():
    proc = subprocess.run([sys.executable, "-m", "skyseal", "--log-json", "moderate", "a calm sea", "a nude beach"],
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 2
    records = [json.loads(line) for line in proc.stderr.splitlines() if line.startswith("{")]
    decisions = [r["decision"] for r in records if r.get("logger") == "safety.decisions"]
    assert [d["action"] for d in decisions] == ["allow", "block"]
    assert decisions[1]["categories"]["sexual"] > 0.5 and decisions[1]["findings"]


def test_every_decision_reaches_the_ledger_refusals_included(home, capsys, tmp_path):
    rc, _, _ = run(capsys, "generate", "a nude person on a beach", "-o", str(tmp_path / "never.mp4"))
    assert rc == 2
    rc, _, _ = run(capsys, "generate", "a small blue ring rising at dusk", "-o", str(tmp_path / "ring.mp4"), "--seed", "3")
    assert rc == 0
    rc, out, _ = run(capsys, "ledger", "decisions")
    entries = [json.loads(line) for line in out.splitlines()]
    assert rc == 0 and [(e["stage"], e["outcome"]) for e in entries] == [("output", "delivered"), ("prompt", "delivered"),
                                                                        ("prompt", "blocked")]
    refusal = entries[-1]
    assert refusal["action"] == "block" and refusal["payload"] is None and len(refusal["prompt_sha256"]) == 64
    assert "sexual" in refusal["decision"]["categories"] and refusal["decision"]["reasons"]
    assert entries[0]["payload"] == entries[1]["payload"] and entries[0]["payload"]
    rc, out, _ = run(capsys, "ledger", "decisions", "--action", "block")
    assert [json.loads(line)["outcome"] for line in out.splitlines()] == ["blocked"]
    rc, _, err = run(capsys, "ledger", "decisions", "--action", "maybe")
    assert rc == 1 and "action must be" in one_line_error(err)
