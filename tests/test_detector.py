"""The detector on real files of every supported type, bad files, labels and their evidence, and batches."""

import json
import subprocess
import sys
from fractions import Fraction

import av
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from provenance import PemSigner, build_manifest, ensure_dev_ca, sign_file, strip_credentials
from provenance.watermark import WatermarkResult
from skyseal.batch import Detector, expand_paths
from skyseal.detect import (
    GENERATED_INTACT, GENERATED_STRIPPED, NO_EVIDENCE, OTHER_ISSUER_AI, LedgerMatch, combine,
)
from skyseal.media import encode_mp4, read_media, sample_media

VIDEO_FORMATS = {  # suffix: (container, codec, pixel format)
    "mp4": ("mp4", "libx264", "yuv420p"),
    "mov": ("mov", "libx264", "yuv420p"),
    "webm": ("webm", "libvpx-vp9", "yuv420p"),
    "mkv": ("matroska", "libx264", "yuv420p"),
    "avi": ("avi", "mpeg4", "yuv420p"),
}
ALL_SUFFIXES = [*VIDEO_FORMATS, "gif", "png", "jpg"]


def write_media(frames: np.ndarray, path, fps: float = 8.0) -> None:
    """Write real files of each type with PyAV (video containers) or Pillow (GIF, PNG, JPEG)."""
    suffix = path.suffix.lstrip(".")
    if suffix in VIDEO_FORMATS:
        container, codec, pix = VIDEO_FORMATS[suffix]
        with av.open(str(path), "w", format=container) as out:
            stream = out.add_stream(codec, rate=Fraction(fps).limit_denominator(1000))
            stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], pix
            if codec == "mpeg4":
                stream.bit_rate = 4_000_000
            for f in frames:
                out.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")))
            out.mux(stream.encode())
    elif suffix == "gif":
        images = [Image.fromarray(f) for f in frames]
        images[0].save(path, save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0)
    else:
        Image.fromarray(frames[len(frames) // 2]).save(path, quality=90)


def natural_clip(index: int = 0, n: int = 16, size: int = 256) -> np.ndarray:
    """A slow pan over one of scikit-image's photographs: unmarked camera content."""
    from skimage import data

    photo = [data.astronaut, data.coffee, data.chelsea, data.rocket][index % 4]()
    h, w = photo.shape[:2]
    side = min(h, w) - 4 * n
    return np.stack([photo[2 * i: 2 * i + side, 3 * i: 3 * i + side] for i in range(n)])[:, ::side // size or 1][:, :size, :size]


@pytest.fixture(scope="module")
def detector(generated):
    settings, _ = generated
    d = Detector.from_settings(settings)
    yield d
    d.close()


@pytest.mark.parametrize("suffix", ALL_SUFFIXES)
def test_every_input_type_of_our_video_is_recognised(generated, detector, tmp_path, suffix):
    _, result = generated
    frames = read_media(result.path).frames
    path = tmp_path / f"copy.{suffix}"
    write_media(frames, path)
    verdict = detector.verdict(path)
    assert verdict.media["frames_read"] == (1 if suffix in ("png", "jpg") else len(frames))
    assert verdict.label == GENERATED_STRIPPED, verdict.to_dict()["evidence"]
    assert verdict.ledger.payload == result.payload
    assert verdict.basis and all(e.supports for e in verdict.basis)
    assert {e.source for e in verdict.basis} & {"watermark", "ledger", "perceptual"}


@pytest.mark.parametrize("suffix", ALL_SUFFIXES)
def test_every_input_type_of_camera_content_has_no_evidence(detector, tmp_path, suffix):
    path = tmp_path / f"camera.{suffix}"
    write_media(natural_clip(ALL_SUFFIXES.index(suffix)), path)
    verdict = detector.verdict(path)
    assert verdict.label == NO_EVIDENCE and verdict.ledger.kind == "none"
    assert not verdict.basis  # nothing supports a claim, and none is made


def test_intact_and_remuxed_copy(generated, detector, tmp_path):
    _, result = generated
    intact = detector.verdict(result.path)
    assert intact.label == GENERATED_INTACT and intact.ledger.kind == "sha256"
    assert {e.source for e in intact.basis} >= {"c2pa", "ledger"}
    stripped = strip_credentials(result.path, tmp_path / "remux.mp4")  # same coded frames, no manifest
    v = detector.verdict(stripped)
    assert v.c2pa.state == "absent" and v.label == GENERATED_STRIPPED
    assert v.ledger.payload == result.payload and v.ledger.manifest_label == result.manifest.manifest_label
    assert v.ledger.manifest_store_bytes and v.ledger.manifest_store_bytes > 1000  # credentials to re-link


def test_reencoded_resized_trimmed_copy_matches_perceptually(generated, detector, tmp_path):
    _, result = generated
    frames = read_media(result.path).frames
    import cv2

    small = np.stack([cv2.resize(f, (128, 128), interpolation=cv2.INTER_AREA) for f in frames[6:]])
    encode_mp4(small, tmp_path / "small.mp4", crf=30)
    v = detector.verdict(tmp_path / "small.mp4")
    assert v.label == GENERATED_STRIPPED and v.ledger.payload == result.payload
    if v.ledger.kind == "perceptual":
        m = v.ledger.perceptual
        assert m["distance"] <= 31 and m["reference_segment"][0] >= 0.5  # the trimmed part is named
    detail = " ".join(e.detail for e in v.basis)
    assert result.payload in detail


def test_other_issuer_claiming_ai_generation(detector, tmp_path):
    stranger = ensure_dev_ca(tmp_path / "stranger-ca")
    encode_mp4(natural_clip(1), tmp_path / "plain.mp4")
    manifest = build_manifest(title="x.mp4", claim_generator="another-generator", version="9", watermark_payload=None,
                              watermark_algorithm=None)
    sign_file(tmp_path / "plain.mp4", tmp_path / "theirs.mp4", manifest, PemSigner(stranger.signer_chain, stranger.signer_key))
    v = detector.verdict(tmp_path / "theirs.mp4")
    assert v.label == OTHER_ISSUER_AI and v.c2pa.state in ("Valid", "Trusted")
    assert [e.source for e in v.basis] == ["c2pa"] and "another-generator" in v.basis[0].detail


def test_probe_alone_never_says_generated_here():
    mark = WatermarkResult(False, None, 0.5, 1.0, "test", 16)
    from provenance import C2paReport

    label, evidence = combine(C2paReport(state="absent"), mark, LedgerMatch("none"), {"generated_score": 0.999})
    assert label == NO_EVIDENCE and not [e for e in evidence if e.supports]
    assert any(e.source == "probe" for e in evidence)


BAD = ["empty", "text", "truncated", "huge", "folder-like"]


def make_bad(kind: str, tmp_path, good) -> object:
    path = tmp_path / f"{kind}.mp4"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("not a video\n" * 50)
    elif kind == "truncated":
        path.write_bytes(good.read_bytes()[:400])
    elif kind == "huge":  # a valid 8000 x 5000 PNG (117 kB of zlib, 120 MB of pixels): over the 8K limit
        import struct
        import zlib

        def chunk(tag, body):
            return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))
        w, h = 8000, 5000
        z = zlib.compressobj(1)
        idat = b"".join(z.compress(b"\0" * (1 + 3 * w)) for _ in range(h)) + z.flush()
        path = tmp_path / "huge.png"
        ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    else:
        path = tmp_path / "missing.mov"
    return path


@pytest.mark.parametrize("kind", BAD)
def test_bad_file_gives_one_clear_error_record(generated, detector, tmp_path, kind):
    _, result = generated
    path = make_bad(kind, tmp_path, result.path)
    record = detector.record(path)
    assert record["label"] is None and path.name in record["error"]
    assert "Traceback" not in record["error"] and len(record["error"].splitlines()) == 1
    if kind == "huge":
        assert "exceeds" in record["error"]


def test_sampling_reads_frames_from_the_whole_file_not_all_of_it(tmp_path):
    frames = np.random.default_rng(0).integers(0, 255, (600, 64, 64, 3), dtype=np.uint8)
    encode_mp4(frames, tmp_path / "long.mp4", fps=25)
    clip, times = sample_media(tmp_path / "long.mp4", max_frames=32)
    assert len(clip.frames) <= 32 and times[-1] > 0.7 * 600 / 25  # spread over the file
    full = read_media(tmp_path / "long.mp4").frames
    idx = np.round(times * 25).astype(int)
    assert np.array_equal(full[idx], clip.frames)  # the frames are the ones at those times


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_batch_cli_over_a_folder_keeps_going_past_bad_files(generated, tmp_path, fmt, monkeypatch, capsys):
    settings, result = generated
    folder = tmp_path / "corpus"
    (folder / "sub").mkdir(parents=True)
    write_media(natural_clip(2, n=8), folder / "camera.webm")
    strip_credentials(result.path, folder / "sub" / "ours.mp4")
    (folder / "broken.mp4").write_text("garbage")
    (folder / "notes.txt").write_text("ignored: not media")
    out = tmp_path / f"verdicts.{fmt}"
    args = ["detect", str(folder), str(result.path), "-o", str(out)]
    if fmt == "jsonl":  # once as a user runs it, in a subprocess; the other formats in-process (faster)
        env = {"SKYSEAL_HOME": str(settings.home), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"}
        proc = subprocess.run([sys.executable, "-m", "skyseal", *args], capture_output=True, text=True, env=env, timeout=300)
        rc, stderr = proc.returncode, proc.stderr
    else:
        from skyseal.cli import main

        monkeypatch.setenv("SKYSEAL_HOME", str(settings.home))
        rc, stderr = main(args), capsys.readouterr().err
    assert rc == 1, stderr  # one file failed: reported, and the batch finished
    assert "Traceback" not in stderr and "broken.mp4" in stderr
    if fmt == "jsonl":
        rows = [json.loads(line) for line in out.read_text().splitlines()]
    else:
        table = pd.read_csv(out) if fmt == "csv" else pd.read_parquet(out)
        rows = table.astype(object).where(table.notna(), None).to_dict("records")
    by_name = {r["file"].rsplit("/", 1)[-1]: r for r in rows}
    assert set(by_name) == {"camera.webm", "ours.mp4", "broken.mp4", result.path.name}
    assert by_name["ours.mp4"]["label"] == GENERATED_STRIPPED
    assert by_name[result.path.name]["label"] == GENERATED_INTACT
    assert by_name["camera.webm"]["label"] == NO_EVIDENCE
    assert by_name["broken.mp4"]["label"] is None and "broken.mp4" in by_name["broken.mp4"]["error"]
    if fmt != "jsonl":
        assert by_name["ours.mp4"]["ledger_payload"] == result.payload and by_name["ours.mp4"]["evidence"]


def test_expand_paths_walks_folders_for_media_only(tmp_path):
    (tmp_path / "a").mkdir()
    for name in ("a/x.mp4", "a/y.GIF", "a/z.txt", "w.webm"):
        (tmp_path / name).write_bytes(b"x")
    assert [p.name for p in expand_paths([tmp_path / "a", tmp_path / "w.webm"])] == ["x.mp4", "y.GIF", "w.webm"]


def test_keyed_watermark_alone_is_enough_only_below_one_in_a_million():
    from provenance import C2paReport

    strong = WatermarkResult(True, None, 0.9, 1e-9, "skyseal/stdm-v2", 16)  # present, payload unreadable
    label, evidence = combine(C2paReport(state="absent"), strong, LedgerMatch("none"))
    assert label == GENERATED_STRIPPED and [e.source for e in evidence if e.supports] == ["c2pa", "watermark"]
    assert "could not be read" in evidence[1].detail
    weak = WatermarkResult(True, "00112233445566ff", 0.8, 2.0**-16, "invisible-watermark/dwtDctSvd", 16)
    assert combine(C2paReport(state="absent"), weak, LedgerMatch("none"))[0] == NO_EVIDENCE
