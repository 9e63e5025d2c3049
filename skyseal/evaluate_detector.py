"""Measure the detector: ``python -m skyseal.evaluate_detector``.

1. Generated clips, made by the real pipeline (watermark, C2PA, ledger with
   perceptual hashes) in a private home, each put through an attack suite
   (the watermark benchmark's attacks from ``provenance.attacks``, plus
   file-level ones: stream-copy remux, H.264 re-encodes with the manifest
   gone, a flipped media byte).  Reported: the true-positive rate per attack
   (any "generated here" label) and the share of exactly correct labels.
2. Unmarked natural-image clips (pans and zooms over the photographs that
   scikit-learn and scikit-image ship), encoded at varied quality: the count
   of false "generated here" verdicts.
3. The confusion table of verdict labels over everything.
4. Throughput at 720p: files/s and frames/s of the verdict, against plain
   decoding of the same files measured in the same run.

Tables are printed; plots and a JSON summary go to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from .detect import (
    GENERATED_HERE, GENERATED_INTACT, GENERATED_STRIPPED, GENERATED_TAMPERED, LABELS, NO_EVIDENCE, OTHER_ISSUER_AI,
)

console = Console(stderr=True)

SHAPES = ["ball", "square", "triangle", "ring", "star", "cube"]
COLOURS = ["red", "green", "blue", "yellow", "purple", "orange", "white"]
MOTIONS = ["bouncing in a forest", "sliding to the left at dusk", "rising over the sea", "spinning in a desert",
           "moving up under a night sky", "drifting right in a city"]


# -- attacks -----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FileAttack:
    name: str
    expected: str  # the correct label for a generated clip after this attack
    make: Callable[[Path, Path], None]  # (signed original, destination)


def _frame_attack(fn) -> Callable[[Path, Path], None]:
    """A frames -> frames attack, delivered as a new H.264 file (which also drops the manifest)."""
    def make(src: Path, dst: Path) -> None:
        from .media import encode_mp4, read_media

        clip = read_media(src)
        frames = fn(clip.frames, clip.fps)
        frames = frames[:, : frames.shape[1] // 2 * 2, : frames.shape[2] // 2 * 2]
        encode_mp4(np.ascontiguousarray(frames), dst, fps=clip.fps, crf=18)
    return make


def _reencode(crf: int) -> Callable[[Path, Path], None]:
    def make(src: Path, dst: Path) -> None:
        from .media import encode_mp4, read_media

        clip = read_media(src)
        encode_mp4(clip.frames, dst, fps=clip.fps, crf=crf)
    return make


def _flip_media_byte(src: Path, dst: Path) -> None:
    data = bytearray(src.read_bytes())
    mdat = data.find(b"mdat")
    data[mdat + 64] ^= 0x55
    dst.write_bytes(bytes(data))


def attack_suite() -> list[FileAttack]:
    from provenance import strip_credentials

    attacks = [
        FileAttack("original", GENERATED_INTACT, lambda s, d: d.write_bytes(s.read_bytes())),
        FileAttack("remux_stripped", GENERATED_STRIPPED, lambda s, d: strip_credentials(s, d)),
        *[FileAttack(f"h264_crf{c}_stripped", GENERATED_STRIPPED, _reencode(c)) for c in (23, 28, 35, 40)],
        FileAttack("media_byte_flipped", GENERATED_TAMPERED, _flip_media_byte),
    ]
    try:  # the watermark benchmark's frame attacks, when that module is present
        from provenance.attacks import standard_attacks

        frame_attacks = [a for a in standard_attacks() if a.name != "none" and not a.name.startswith("h264")]
    except ImportError:
        frame_attacks = []
    attacks += [FileAttack(a.name, GENERATED_STRIPPED, _frame_attack(a.apply)) for a in frame_attacks]
    return attacks


# -- unmarked natural clips ----------------------------------------------------------------------------------------

def natural_photos() -> list[np.ndarray]:
    """The colour photographs bundled with scikit-learn and scikit-image (no download)."""
    from sklearn.datasets import load_sample_images

    photos = list(load_sample_images().images)
    from skimage import data

    for name in ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry", "retina",
                 "camera", "moon", "coins", "page", "text", "brick", "grass", "gravel"):
        try:
            img = getattr(data, name)()
        except Exception:  # noqa: BLE001 - a sample that needs a download is skipped
            continue
        if img.ndim == 2:
            img = np.repeat(img[..., None], 3, axis=2)
        if img.dtype != np.uint8:
            img = (255 * (img - img.min()) / max(1e-9, float(img.max() - img.min()))).astype(np.uint8)
        photos.append(np.ascontiguousarray(img[..., :3]))
    return photos


def natural_clip(photos: list[np.ndarray], rng: np.random.Generator, *, n: int = 16, size: int = 256,
                 height: int | None = None) -> np.ndarray:
    """A pan (and zoom) over a random window of a random photograph, resized to ``size`` (x ``height``)."""
    import cv2

    photo = photos[rng.integers(len(photos))]
    if rng.random() < 0.5:
        photo = photo[:, ::-1]
    h, w = photo.shape[:2]
    height = height or size
    aspect = size / height
    win0 = rng.uniform(0.45, 0.8) * min(h, w * height / size)
    win1 = win0 * rng.uniform(0.8, 1.2)
    out = []
    x0, y0 = rng.uniform(0, 1, 2)
    x1, y1 = rng.uniform(0, 1, 2)
    for i in range(n):
        a = i / max(1, n - 1)
        wh = (1 - a) * win0 + a * win1
        ww = min(w, wh * aspect)
        wh = min(h, wh)
        cx = ((1 - a) * x0 + a * x1) * (w - ww)
        cy = ((1 - a) * y0 + a * y1) * (h - wh)
        crop = photo[int(cy): int(cy + wh), int(cx): int(cx + ww)]
        out.append(cv2.resize(crop, (size, height), interpolation=cv2.INTER_AREA))
    return np.stack(out)


def _perceptual_alone(detector, path: Path, payload: str) -> bool:
    """Would the PDQ/vPDQ ledger lookup alone have found this generation (watermark and manifest ignored)?"""
    from provenance.perceptual import hash_frames, is_same_video

    from .media import sample_media

    try:
        clip, times = sample_media(path, max_frames=detector.max_frames)
    except Exception:  # noqa: BLE001
        return False
    query = hash_frames(clip.frames, fps=0, timestamps=times)
    n = len(query.informative())
    return any(h.record.payload == payload and is_same_video(h.match, query_frames=n) for h in detector.ledger.by_perceptual(query))


# -- the run -------------------------------------------------------------------------------------------------------

def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TimeRemainingColumn(), console=console)


def run(args: argparse.Namespace) -> dict:
    from .batch import Detector
    from .config import Settings
    from .media import encode_mp4, read_media
    from .pipeline import Pipeline

    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="skyseal-evaldet-"))
    overrides = {"generator": {"num_frames": args.frames, "delivery_size": args.size}}
    if args.watermark:
        overrides["provenance"] = {"watermark": args.watermark}
    settings = Settings(home=work / "home", **overrides)
    rng = np.random.default_rng(args.seed)
    results: dict = {"settings": {"generated": args.generated, "unmarked": args.unmarked, "frames": args.frames, "size": args.size,
                                  "watermark": settings.provenance.watermark}}

    # 1. generated clips through the real road
    pipeline = Pipeline.from_settings(settings)
    results["settings"]["bench_frames"] = args.bench_frames
    results["settings"]["watermark_algorithm"] = pipeline.watermarker.algorithm
    clips: list[Path] = []
    clip_payload: dict[Path, str] = {}
    with _progress() as bar:
        task = bar.add_task("generate", total=args.generated)
        i = 0
        while len(clips) < args.generated and i < 3 * args.generated:
            prompt = f"a {rng.choice(COLOURS)} {rng.choice(SHAPES)} {rng.choice(MOTIONS)}"
            r = pipeline.run(prompt, output=work / "gen" / f"g{i:04d}.mp4", seed=int(args.seed * 1000 + i))
            i += 1
            if r.status == "delivered":
                clips.append(r.path)
                clip_payload[r.path] = r.payload
                bar.advance(task)
    pipeline.close()

    detector = Detector.from_settings(settings, max_frames=args.max_frames)
    confusion: dict[str, Counter] = defaultdict(Counter)  # expected -> predicted
    per_attack: dict[str, Counter] = defaultdict(Counter)
    attacks = attack_suite()
    with _progress() as bar:
        task = bar.add_task("attacks", total=len(clips) * len(attacks))
        for clip in clips:
            for attack in attacks:
                dst = work / "attacked" / attack.name / clip.name
                dst.parent.mkdir(parents=True, exist_ok=True)
                try:
                    attack.make(clip, dst)
                except Exception as exc:  # noqa: BLE001 - an attack that cannot apply is reported, not fatal
                    per_attack[attack.name]["attack_failed"] += 1
                    console.print(f"[yellow]attack {attack.name} failed on {clip.name}: {exc}")
                    bar.advance(task)
                    continue
                record = detector.record(dst)
                label = record.get("label") or "error"
                per_attack[attack.name][label] += 1
                per_attack[attack.name]["total"] += 1
                per_attack[attack.name]["correct"] += label == attack.expected
                per_attack[attack.name]["generated_here"] += label in GENERATED_HERE
                per_attack[attack.name]["by_watermark"] += bool(record.get("watermark", {}).get("found")) if label != "error" else 0
                per_attack[attack.name]["by_perceptual"] += (record.get("ledger", {}).get("kind") == "perceptual") if label != "error" else 0
                per_attack[attack.name]["perceptual_alone"] += _perceptual_alone(detector, dst, clip_payload[clip])
                confusion[attack.expected][label] += 1
                dst.unlink(missing_ok=True)
                bar.advance(task)

    # 2. unmarked natural clips; one in 20 carries a valid manifest from another issuer claiming AI generation
    from provenance import PemSigner, build_manifest, ensure_dev_ca, sign_file

    stranger = ensure_dev_ca(work / "stranger-ca")
    stranger_signer = PemSigner(stranger.signer_chain, stranger.signer_key)
    photos = natural_photos()
    false_positive_files: list[dict] = []
    with _progress() as bar:
        task = bar.add_task("unmarked", total=args.unmarked)
        for i in range(args.unmarked):
            frames = natural_clip(photos, rng, n=args.frames, size=args.size)
            path = work / "unmarked" / f"n{i:05d}.mp4"
            path.parent.mkdir(parents=True, exist_ok=True)
            encode_mp4(frames, path, fps=8, crf=int(rng.integers(18, 33)))
            expected = NO_EVIDENCE
            if i % 20 == 0:
                plain = path.with_suffix(".plain.mp4")
                path.rename(plain)
                sign_file(plain, path, build_manifest(title=path.name, claim_generator="another-generator", version="1",
                                                      watermark_payload=None, watermark_algorithm=None), stranger_signer)
                plain.unlink()
                expected = OTHER_ISSUER_AI
            record = detector.record(path)
            label = record.get("label") or "error"
            confusion[expected][label] += 1
            if label in GENERATED_HERE:
                false_positive_files.append({"clip": i, "label": label, "ledger": record.get("ledger"), "watermark": record.get("watermark")})
            path.unlink()
            bar.advance(task)
    results["unmarked"] = {"clips": args.unmarked, "false_generated_here": len(false_positive_files),
                           "watermark_false_found": sum(1 for f in false_positive_files if f["watermark"]["found"]),
                           "examples": false_positive_files[:5], "photos": len(photos)}

    # 3. throughput at 720p against plain decoding of the same files
    bench = []
    for i in range(args.bench_files):
        frames = natural_clip(photos, rng, n=args.bench_frames, size=1280, height=720)
        path = work / "bench" / f"b{i}.mp4"
        path.parent.mkdir(parents=True, exist_ok=True)
        encode_mp4(frames, path, fps=24, crf=23)
        bench.append(path)
    t0 = time.perf_counter()
    decoded = sum(len(read_media(p).frames) for p in bench)
    decode_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    frames_read = sum(detector.verdict(p).media["frames_read"] for p in bench)
    verdict_s = time.perf_counter() - t0
    detector.close()
    results["throughput_720p"] = {
        "files": len(bench), "frames_per_file": args.bench_frames, "verdict_files_per_s": len(bench) / verdict_s,
        "verdict_frames_per_s": frames_read / verdict_s, "decode_only_frames_per_s": decoded / decode_s,
        "verdict_vs_decode_time": verdict_s / decode_s, "frames_read": frames_read, "frames_in_files": decoded,
    }
    shutil.rmtree(work, ignore_errors=True)
    results["per_attack"] = {k: dict(v) for k, v in per_attack.items()}
    results["confusion"] = {k: dict(v) for k, v in confusion.items()}
    _report(results, out_dir)
    return results


def _report(results: dict, out_dir: Path) -> None:
    out = Console(width=170)
    s = results["settings"]
    out.print(f"[bold]Detector evaluation[/]: {s['generated']} generated clips ({s['frames']} frames, {s['size']}px), "
              f"watermark backend {s['watermark_algorithm']}, {results['unmarked']['clips']} unmarked natural clips")
    if not results["per_attack"]:
        out.print("(no generated clips)")
    t = Table(title="generated clips per attack", title_justify="left")
    for col in ("attack", "n", "TPR (generated here)", "correct label", "watermark found", "PDQ match alone", "labels"):
        t.add_column(col)
    for name, c in results["per_attack"].items():
        n = c.get("total", 0)
        labels = ", ".join(f"{k}={v}" for k, v in sorted(c.items()) if k in (*LABELS, "error", "attack_failed"))
        t.add_row(name, str(n), f"{c.get('generated_here', 0) / max(1, n):.1%}", f"{c.get('correct', 0) / max(1, n):.1%}",
                  f"{c.get('by_watermark', 0) / max(1, n):.1%}", f"{c.get('perceptual_alone', 0) / max(1, n):.1%}", labels)
    out.print(t)
    u = results["unmarked"]
    out.print(f"unmarked clips: {u['false_generated_here']} false 'generated here' of {u['clips']} "
              f"(watermark false finds {u['watermark_false_found']})")
    cols = [*LABELS, "error"]
    t = Table(title="confusion: expected (rows) vs verdict (columns)", title_justify="left")
    t.add_column("expected")
    for c in cols:
        t.add_column(c.replace("generated_here_", "gen_").replace("_or_reencoded", ""))
    for exp in LABELS:
        if exp in results["confusion"]:
            t.add_row(exp, *[str(results["confusion"][exp].get(c, 0)) for c in cols])
    out.print(t)
    b = results["throughput_720p"]
    out.print(f"720p verdict: {b['verdict_files_per_s']:.2f} files/s, {b['verdict_frames_per_s']:.1f} frames analysed/s "
              f"({b['frames_read']} of {b['frames_in_files']} frames sampled); plain decoding of the same files "
              f"{b['decode_only_frames_per_s']:.1f} frames/s; verdict time / full-decode time = {b['verdict_vs_decode_time']:.2f}")
    (out_dir / "summary.json").write_text(json.dumps(results, indent=2, default=str))
    _plots(results, out_dir)
    out.print(f"plots and summary.json in {out_dir}")


def _plots(results: dict, out_dir: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results["per_attack"])
    if not names:
        return
    tpr = [results["per_attack"][n].get("generated_here", 0) / max(1, results["per_attack"][n].get("total", 0)) for n in names]
    correct = [results["per_attack"][n].get("correct", 0) / max(1, results["per_attack"][n].get("total", 0)) for n in names]
    fig, ax = plt.subplots(figsize=(10, 4.5))
    x = np.arange(len(names))
    ax.bar(x - 0.2, tpr, 0.4, label="generated here (TPR)")
    ax.bar(x + 0.2, correct, 0.4, label="exact label correct")
    ax.axhline(0.99, color="k", lw=0.8, ls="--", label="99 % target")
    ax.set_xticks(x, names, rotation=60, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_title(f"Detector on generated clips ({results['settings']['watermark_algorithm']})")
    ax.legend(loc="lower left")
    fig.tight_layout()
    fig.savefig(out_dir / "tpr_per_attack.png", dpi=120)
    plt.close(fig)

    cols = [*LABELS, "error"]
    rows = [r for r in LABELS if r in results["confusion"]]
    if not rows:
        return
    m = np.array([[results["confusion"][r].get(c, 0) for c in cols] for r in rows], dtype=float)
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.imshow(m / np.maximum(1, m.sum(1, keepdims=True)), cmap="Blues", vmin=0, vmax=1)
    for i in range(len(rows)):
        for j in range(len(cols)):
            ax.text(j, i, int(m[i, j]), ha="center", va="center", fontsize=8)
    short = [c.replace("generated_here_", "gen_").replace("_credentials_stripped_or_reencoded", "_stripped") for c in cols]
    ax.set_xticks(range(len(cols)), short, rotation=30, ha="right")
    ax.set_yticks(range(len(rows)), [r.replace("generated_here_", "gen_").replace("_credentials_stripped_or_reencoded", "_stripped") for r in rows])
    ax.set_xlabel("verdict")
    ax.set_ylabel("expected")
    ax.set_title("Verdict confusion")
    fig.tight_layout()
    fig.savefig(out_dir / "confusion.png", dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m skyseal.evaluate_detector", description=__doc__.split("\n\n")[0])
    p.add_argument("--generated", type=int, default=40, help="generated clips (each through every attack)")
    p.add_argument("--unmarked", type=int, default=1000, help="unmarked natural-image clips")
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--max-frames", type=int, default=64, help="frames the detector samples per file")
    p.add_argument("--watermark", default=None, help="watermark backend (default: the settings' default)")
    p.add_argument("--bench-files", type=int, default=3)
    p.add_argument("--bench-frames", type=int, default=240, help="frames per 720p benchmark file (24 fps)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="out/evaluate_detector")
    run(p.parse_args(argv))


if __name__ == "__main__":
    main()
