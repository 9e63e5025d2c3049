"""Watermark robustness benchmark: ``python -m provenance.bench_watermark``.

Marks natural-image videos (pans and zooms over the photographs scikit-learn and
scikit-image ship) and generated-looking clips (moving coloured shapes, or any
.mp4 files from ``--generated-dir``, e.g. made by ``skyseal generate``) at 256p,
720p and 1080p with Skyseal's watermark and with invisible-watermark's
dwtDctSvd baseline, delivers them as H.264 (CRF 18, like the pipeline), then
applies each attack and reports, per method and attack: bit accuracy, exact
payload recovery and detection rate; PSNR/SSIM of marked vs original; embed
speed at 1080p; and the false-positive count on >= 1000 unmarked clips.
A plot of detection rate per attack is saved next to a JSON of all numbers.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from . import attacks as A
from .payload import make_payload, payload_to_bits
from .watermark import DwtDctSvdWatermarker
from .wm_skyseal import SkysealWatermarker, null_tail

TARGETS = {
    "exact payload at h264_crf28": ("h264_crf28", "exact", 0.99),
    "exact payload at downscale_50": ("downscale_50", "exact", 0.99),
    "exact payload at downscale_50_back": ("downscale_50_back", "exact", 0.99),
    "detection at h264_crf40": ("h264_crf40", "detected", 0.90),
}
SIZES = {256: (256, 256), 720: (720, 1280), 1080: (1080, 1920)}


# --- clip sources ---------------------------------------------------------------------------------
def natural_images() -> list[tuple[str, np.ndarray]]:
    """The photographs scikit-learn and scikit-image ship, as RGB uint8."""
    from skimage import data
    from sklearn.datasets import load_sample_images

    sk = load_sample_images()
    out = [(Path(name).stem, img) for name, img in zip(sk.filenames, sk.images)]
    for name in ("astronaut", "coffee", "chelsea", "rocket", "camera", "immunohistochemistry", "hubble_deep_field",
                 "retina", "moon", "coins", "grass", "gravel", "brick", "cat", "page", "text", "colorwheel"):
        img = getattr(data, name)()
        img = np.dstack([img] * 3) if img.ndim == 2 else img[..., :3]
        out.append((name, np.ascontiguousarray(img)))
    return out


def camera_clip(img: np.ndarray, size: tuple[int, int], n_frames: int, *, seed: int, motion: str = "pan") -> np.ndarray:
    """A virtual camera over a photograph: a pan (constant-speed crop window) or a zoom (shrinking window)."""
    rng = np.random.default_rng(seed)
    h, w = size
    ih, iw = img.shape[:2]
    aspect = w / h
    win_h = min(ih, iw / aspect) * rng.uniform(0.6, 0.85)
    end_h = win_h * (rng.uniform(0.7, 0.85) if motion == "zoom" else 1.0)
    c0 = np.array([rng.uniform(win_h / 2, ih - win_h / 2), rng.uniform(win_h * aspect / 2, iw - win_h * aspect / 2)])
    c1 = np.array([rng.uniform(win_h / 2, ih - win_h / 2), rng.uniform(win_h * aspect / 2, iw - win_h * aspect / 2)])
    if motion == "zoom":
        c1 = c0
    frames = []
    for t in np.linspace(0, 1, n_frames):
        wh = win_h + (end_h - win_h) * t
        cy, cx = c0 + (c1 - c0) * t * 0.35  # drift over at most a third of the picture
        scale = h / wh
        # Affine crop-and-resize in one resampling step (sub-pixel motion, like a real camera move).
        m = np.array([[scale, 0, w / 2 - cx * scale], [0, scale, h / 2 - cy * scale]])
        frames.append(cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
                                     borderMode=cv2.BORDER_REFLECT))
    return np.stack(frames)


def shapes_clip(size: tuple[int, int], n_frames: int, *, seed: int) -> np.ndarray:
    """Generated-looking video: coloured shapes moving over a textured gradient sky and ground."""
    rng = np.random.default_rng(seed)
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    top, bottom = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    base = top + (bottom - top) * (yy / h)[..., None]
    texture = cv2.GaussianBlur(rng.normal(0, 18, (h, w)).astype(np.float32), (0, 0), max(1.0, h / 200))
    base = np.clip(base + texture[..., None], 0, 255)
    shapes = [(rng.uniform(0, w), rng.uniform(0, h), rng.uniform(-0.02, 0.02) * w, rng.uniform(-0.02, 0.02) * h,
               rng.uniform(0.05, 0.2) * h, tuple(int(c) for c in rng.integers(0, 256, 3)), rng.integers(0, 2))
              for _ in range(rng.integers(2, 6))]
    frames = []
    for t in range(n_frames):
        f = base.astype(np.uint8).copy()
        for x, y, vx, vy, r, colour, kind in shapes:
            cx, cy = int(x + vx * t), int(y + vy * t)
            if kind:
                cv2.circle(f, (cx, cy), int(r), colour, -1, lineType=cv2.LINE_AA)
            else:
                cv2.rectangle(f, (cx - int(r), cy - int(r)), (cx + int(r), cy + int(r * 0.6)), colour, -1)
        frames.append(f)
    return np.stack(frames)


def read_clip(path: Path, max_frames: int) -> np.ndarray:
    import av

    frames = []
    with av.open(str(path)) as container:
        for frame in container.decode(container.streams.video[0]):
            frames.append(frame.to_ndarray(format="rgb24"))
            if len(frames) >= max_frames:
                break
    return np.stack(frames)


@dataclass
class Clip:
    name: str
    size: int
    frames: np.ndarray
    fps: float = 8.0


def marked_clip_set(sizes: list[int], per_size: dict[int, int], frames: dict[int, int], generated_dir: Path | None) -> list[Clip]:
    images = natural_images()
    clips: list[Clip] = []
    for size in sizes:
        hw, n = SIZES[size], frames[size]
        for i in range(per_size[size]):
            if i % 4 == 3:
                clips.append(Clip(f"shapes{i}@{size}p", size, shapes_clip(hw, n, seed=1000 + i)))
                continue
            name, img = images[(i * 3 + size) % len(images)]
            motion = "zoom" if i % 2 else "pan"
            clips.append(Clip(f"{name}-{motion}@{size}p", size, camera_clip(img, hw, n, seed=i + size, motion=motion)))
    if generated_dir is not None:
        for path in sorted(Path(generated_dir).glob("*.mp4")):
            f = read_clip(path, 16)
            clips.append(Clip(f"gen:{path.stem}", f.shape[1], f[:, : f.shape[1] // 2 * 2, : f.shape[2] // 2 * 2]))
    return clips


def unmarked_clip_set(n: int, *, seed: int = 7) -> list[np.ndarray]:
    """Small, varied unmarked clips: pans/zooms over every photograph, shapes, noise, flat frames, re-encodes."""
    images = natural_images()
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        side = int(rng.choice([128, 160, 192, 256]))
        hw = (side, int(rng.choice([side, side * 4 // 3 // 2 * 2])))
        kind = i % 10
        if kind < 7:
            _, img = images[i % len(images)]
            clip = camera_clip(img, hw, 6, seed=seed * 100_000 + i, motion="zoom" if kind % 2 else "pan")
        elif kind < 9:
            clip = shapes_clip(hw, 6, seed=seed * 100_000 + i)
        else:
            level = rng.integers(0, 256)
            clip = np.clip(level + rng.normal(0, rng.choice([0, 3, 30]), (6, *hw, 3)), 0, 255).astype(np.uint8)
        if i % 5 == 0:
            clip = A.h264(clip, int(rng.choice([18, 28, 40])))
        out.append(clip)
    return out


# --- measurements ---------------------------------------------------------------------------------
def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * math.log10(255.0**2 / mse)


def ssim(a: np.ndarray, b: np.ndarray, max_frames: int = 4) -> float:
    from skimage.metrics import structural_similarity

    idx = np.linspace(0, len(a) - 1, min(len(a), max_frames)).round().astype(int)
    return float(np.mean([structural_similarity(a[i], b[i], channel_axis=-1, data_range=255) for i in idx]))


@dataclass
class AttackScore:
    bit_accuracy: list[float] = field(default_factory=list)
    exact: list[bool] = field(default_factory=list)
    detected: list[bool] = field(default_factory=list)
    by_size: dict[int, list[bool]] = field(default_factory=dict)

    def add(self, size: int, truth: str, result) -> None:
        raw = result.raw_payload
        bits = payload_to_bits(raw) if raw else np.zeros(64, np.uint8)
        self.bit_accuracy.append(float((bits == payload_to_bits(truth)).mean()) if raw else 0.5)
        self.exact.append(result.payload == truth)
        self.detected.append(bool(result.found))
        self.by_size.setdefault(size, []).append(bool(result.found))

    def summary(self) -> dict:
        return {"bit_accuracy": float(np.mean(self.bit_accuracy)), "exact": float(np.mean(self.exact)),
                "detected": float(np.mean(self.detected)), "n": len(self.exact),
                "detected_by_size": {str(k): float(np.mean(v)) for k, v in sorted(self.by_size.items())}}


def embed_speed(method, size: tuple[int, int], n_frames: int) -> float:
    """Frames per second embedding ``n_frames`` natural-image frames of ``size``."""
    _, img = natural_images()[2]
    frames = camera_clip(img, size, n_frames, seed=3)
    payload = make_payload()
    method.embed(frames[:1], payload)  # warm-up (imports, caches)
    start = time.perf_counter()
    method.embed(frames, payload)
    return n_frames / (time.perf_counter() - start)


def run(args: argparse.Namespace) -> dict:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    console = Console(stderr=True)
    sizes = [int(s) for s in args.sizes.split(",")]
    per_size = {256: args.clips_256, 720: args.clips_hd, 1080: args.clips_hd}
    n_frames = {256: args.frames, 720: max(4, args.frames // 2), 1080: max(4, args.frames // 2)}
    ours = SkysealWatermarker()
    methods = {"skyseal": ours}
    if not args.no_baseline:
        # The baseline reads at most 4 frames (it needs ~1 s per 1080p frame); majority vote over them.
        methods["dwtDctSvd"] = DwtDctSvdWatermarker(max_frames=4)
    attacks = A.standard_attacks()
    clips = marked_clip_set(sizes, per_size, n_frames, args.generated_dir)
    scores = {m: {a.name: AttackScore() for a in attacks} for m in methods}
    quality = {m: {"psnr": [], "ssim": []} for m in methods}
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console)
    with progress:
        task = progress.add_task("marked clips x attacks", total=len(clips) * len(methods) * len(attacks))
        for clip in clips:
            for mname, method in methods.items():
                payload = make_payload()
                marked = method.embed(clip.frames, payload)
                quality[mname]["psnr"].append(psnr(marked, clip.frames))
                quality[mname]["ssim"].append(ssim(marked, clip.frames))
                delivered = A.h264(marked, args.delivery_crf, fps=clip.fps) if args.delivery_crf >= 0 else marked
                for attack in attacks:
                    progress.update(task, description=f"{mname} {clip.name} {attack.name}")
                    scores[mname][attack.name].add(clip.size, payload, method.detect(attack.apply(delivered, clip.fps)))
                    progress.advance(task)

        unmarked = unmarked_clip_set(args.unmarked)
        fp = {}
        null_z = []
        task = progress.add_task("unmarked clips", total=len(unmarked) + min(len(unmarked), args.unmarked_baseline))
        for mname, method in methods.items():
            limit = len(unmarked) if mname == "skyseal" else min(len(unmarked), args.unmarked_baseline)
            found = 0
            for clip in unmarked[:limit]:
                if mname == "skyseal":
                    found += ours.analyse(clip).found
                    null_z.append(ours.pilot_z(clip))
                else:
                    found += method.detect(clip).found if min(clip.shape[1:3]) >= 256 else 0
                progress.advance(task)
            fp[mname] = {"clips": limit, "false_positives": int(found)}
        speed = {}
        task = progress.add_task("embed speed at 1080p", total=len(methods))
        for mname, method in methods.items():
            speed[mname] = embed_speed(method, SIZES[1080], args.speed_frames if mname == "skyseal" else 2)
            progress.advance(task)

    # One fixed hypothesis' statistic on unmarked clips: the share beyond each level must stay below
    # the bound the p-values are built on (and, if the statistic is ~N(0,1), near the Gaussian tail).
    null_z = np.array(null_z)
    calibration = {
        "z_mean": float(null_z.mean()), "z_std": float(null_z.std()),
        "levels": [{"z": z, "empirical_tail": float((null_z >= z).mean()), "bound": null_tail(z),
                    "gaussian_tail": 0.5 * math.erfc(z / math.sqrt(2))} for z in (1.0, 2.0, 3.0)],
    }
    results = {
        "clips": [c.name for c in clips], "delivery_crf": args.delivery_crf,
        "attacks": {m: {a: s.summary() for a, s in sc.items()} for m, sc in scores.items()},
        "quality": {m: {k: {"mean": float(np.mean(v)), "min": float(np.min(v))} for k, v in q.items()} for m, q in quality.items()},
        "false_positives": fp, "null_calibration": calibration,
        "embed_fps_1080p": speed,
    }
    s = results["attacks"]["skyseal"]
    results["targets"] = {
        **{name: {"value": s[att][metric], "target": goal, "met": s[att][metric] >= goal} for name, (att, metric, goal) in TARGETS.items()},
        "PSNR >= 42 dB (mean)": {"value": results["quality"]["skyseal"]["psnr"]["mean"], "target": 42.0,
                                 "met": results["quality"]["skyseal"]["psnr"]["mean"] >= 42.0},
        "zero false positives on unmarked clips": {"value": fp["skyseal"]["false_positives"], "target": 0,
                                                   "met": fp["skyseal"]["false_positives"] == 0 and fp["skyseal"]["clips"] >= 1000},
        "embed >= 25 frames/s at 1080p": {"value": speed["skyseal"], "target": 25.0, "met": speed["skyseal"] >= 25.0},
    }

    out = Console(width=150)  # wide enough for the tables when piped to a file
    table = Table(title=f"Watermark robustness ({len(clips)} clips, delivered at CRF {args.delivery_crf})")
    table.add_column("attack")
    for m in methods:
        for col in ("bit acc", "exact", "detected"):
            table.add_column(f"{m} {col}", justify="right")
    for a in attacks:
        row = [a.name]
        for m in methods:
            r = results["attacks"][m][a.name]
            row += [f"{r['bit_accuracy']:.3f}", f"{r['exact']:.2f}", f"{r['detected']:.2f}"]
        table.add_row(*row)
    out.print(table)
    by_size = Table(title="Skyseal detection rate by resolution")
    by_size.add_column("attack")
    for size in sizes:
        by_size.add_column(f"{size}p", justify="right")
    for a in attacks:
        d = results["attacks"]["skyseal"][a.name]["detected_by_size"]
        by_size.add_row(a.name, *[f"{d.get(str(size), float('nan')):.2f}" for size in sizes])
    out.print(by_size)
    other = Table(title="Quality, speed, false positives")
    other.add_column("method")
    for col in ("PSNR mean", "PSNR min", "SSIM mean", "embed fps 1080p", "false positives"):
        other.add_column(col, justify="right")
    for m in methods:
        q = results["quality"][m]
        other.add_row(m, f"{q['psnr']['mean']:.2f}", f"{q['psnr']['min']:.2f}", f"{q['ssim']['mean']:.4f}",
                      f"{speed[m]:.2f}", f"{fp[m]['false_positives']}/{fp[m]['clips']}")
    out.print(other)
    if "dwtDctSvd" in speed:
        out.print(f"embed speed ratio skyseal / dwtDctSvd at 1080p: {speed['skyseal'] / speed['dwtDctSvd']:.1f}x")
    cal = Table(title=f"Null calibration: pilot Z on {len(null_z)} unmarked clips (mean {calibration['z_mean']:.3f}, std {calibration['z_std']:.3f})")
    for col in ("z", "share >= z", "bound used for p-values", "N(0,1) tail"):
        cal.add_column(col, justify="right")
    for lv in calibration["levels"]:
        cal.add_row(f"{lv['z']:.1f}", f"{lv['empirical_tail']:.4f}", f"{lv['bound']:.4f}", f"{lv['gaussian_tail']:.4f}")
    out.print(cal)
    tgt = Table(title="Targets (Skyseal)")
    for col in ("target", "value", "goal", "met"):
        tgt.add_column(col)
    for name, t in results["targets"].items():
        tgt.add_row(name, f"{t['value']:.4g}", f"{t['target']}", "yes" if t["met"] else "NO")
    out.print(tgt)

    args.out.mkdir(parents=True, exist_ok=True)
    _write_atomic(args.out / "bench_watermark.json", json.dumps(results, indent=2).encode())
    _plot(results, [a.name for a in attacks], args.out / "bench_watermark.png")
    console.print(f"wrote {args.out / 'bench_watermark.json'} and {args.out / 'bench_watermark.png'}")
    return results


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def _plot(results: dict, attack_names: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = list(results["attacks"])
    fig, axes = plt.subplots(2, 1, figsize=(12, 7), sharex=True)
    x = np.arange(len(attack_names))
    width = 0.8 / len(methods)
    for ax, metric, label in ((axes[0], "detected", "detection rate"), (axes[1], "bit_accuracy", "bit accuracy")):
        for i, m in enumerate(methods):
            ax.bar(x + i * width, [results["attacks"][m][a][metric] for a in attack_names], width, label=m)
        ax.set_ylabel(label)
        ax.set_ylim(0, 1.05)
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(ncol=len(methods), loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)
    axes[1].set_xticks(x + width * (len(methods) - 1) / 2, attack_names, rotation=40, ha="right")
    fig.suptitle("Watermark robustness per attack (Skyseal vs invisible-watermark dwtDctSvd)")
    fig.tight_layout()
    tmp = path.with_name(f".{path.stem}.tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m provenance.bench_watermark", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="256,720,1080", help="resolutions to test (256, 720, 1080)")
    parser.add_argument("--clips-256", type=int, default=16, help="marked clips at 256p")
    parser.add_argument("--clips-hd", type=int, default=4, help="marked clips at each of 720p and 1080p")
    parser.add_argument("--frames", type=int, default=16, help="frames per 256p clip (half that at 720p/1080p)")
    parser.add_argument("--delivery-crf", type=int, default=18, help="H.264 CRF of the delivered file the attacks start from (-1: none)")
    parser.add_argument("--unmarked", type=int, default=1000, help="unmarked clips for the false-positive check")
    parser.add_argument("--unmarked-baseline", type=int, default=100, help="of those, how many the (slow) baseline checks")
    parser.add_argument("--speed-frames", type=int, default=32, help="1080p frames timed for Skyseal's embed speed")
    parser.add_argument("--generated-dir", type=Path, default=None, help="also mark .mp4 clips from this folder (e.g. from `skyseal generate`)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the dwtDctSvd baseline")
    parser.add_argument("--out", type=Path, default=Path("out/bench_watermark"), help="folder for the JSON and the plot")
    args = parser.parse_args(argv)
    if any(int(s) not in SIZES for s in args.sizes.split(",")):
        parser.error(f"--sizes takes values from {sorted(SIZES)}")
    run(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
