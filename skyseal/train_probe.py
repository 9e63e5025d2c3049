"""Train and evaluate the passive probe: ``python -m skyseal.train_probe``.

Generated clips (the configured generator, watermarked and H.264-encoded as
delivered) against natural-image clips (pans over scikit-learn/scikit-image
photographs, encoded at the same qualities), split by clip so no clip has
frames on both sides.  Prints frame- and clip-level ROC AUC on the held-out
clips, saves the ROC plot and the probe; ``--install`` puts it where the
detector loads it (``<home>/probe.joblib``).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import track

console = Console(stderr=True)


def make_dataset(n_generated: int, n_natural: int, *, frames: int, size: int, seed: int, settings) -> tuple[list, list]:
    """(clips, labels): decoded clips after a real H.264 round trip, label 1 = generated."""
    from provenance import get_watermarker, make_payload

    from .components import build_generator
    from .evaluate_detector import COLOURS, MOTIONS, SHAPES, natural_clip, natural_photos
    from .media import encode_mp4, read_media

    rng = np.random.default_rng(seed)
    generator = build_generator(settings.generator)
    watermarker = get_watermarker(settings.provenance.watermark)
    photos = natural_photos()
    clips, labels = [], []
    with tempfile.TemporaryDirectory(prefix="skyseal-probe-") as work:
        path = Path(work) / "clip.mp4"
        for i in track(range(n_generated + n_natural), description="clips", console=console):
            if i < n_generated:  # as delivered: watermarked, then H.264
                prompt = f"a {rng.choice(COLOURS)} {rng.choice(SHAPES)} {rng.choice(MOTIONS)}"
                raw = watermarker.embed(generator(prompt, seed=int(seed * 10_000 + i), num_frames=frames).frames, make_payload())
            else:
                raw = natural_clip(photos, rng, n=frames, size=size)
            # Both classes get the same range of encoder qualities, so the probe cannot learn the codec instead.
            encode_mp4(raw, path, fps=8, crf=int(rng.integers(18, 31)))
            clips.append(read_media(path).frames)
            labels.append(int(i < n_generated))
    return clips, labels


def evaluate(clips: list, labels: list, *, seed: int) -> dict:
    from sklearn.metrics import roc_auc_score, roc_curve
    from sklearn.model_selection import train_test_split

    from provenance.probe import FrameProbe

    idx = np.arange(len(clips))
    train, test = train_test_split(idx, test_size=0.4, stratify=labels, random_state=seed)
    X = np.concatenate([clips[i] for i in train])
    y = np.concatenate([[labels[i]] * len(clips[i]) for i in train])
    probe = FrameProbe().fit(X, y)
    frame_scores, frame_y, clip_scores, clip_y = [], [], [], []
    for i in test:
        p = probe.predict_proba(clips[i])[:, 1]
        frame_scores.extend(p)
        frame_y.extend([labels[i]] * len(p))
        clip_scores.append(p.mean())
        clip_y.append(labels[i])
    fpr, tpr, _ = roc_curve(clip_y, clip_scores)
    return {
        "probe": probe, "train_clips": len(train), "test_clips": len(test),
        "frame_auc": float(roc_auc_score(frame_y, frame_scores)), "clip_auc": float(roc_auc_score(clip_y, clip_scores)),
        "roc": (fpr.tolist(), tpr.tolist()),
    }


def main(argv: list[str] | None = None) -> None:
    from .config import load_settings

    p = argparse.ArgumentParser(prog="python -m skyseal.train_probe", description=__doc__.split("\n\n")[0])
    p.add_argument("--generated", type=int, default=100)
    p.add_argument("--natural", type=int, default=100)
    p.add_argument("--frames", type=int, default=8)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="out/probe")
    p.add_argument("--install", action="store_true", help="save the probe as <home>/probe.joblib for the detector")
    args = p.parse_args(argv)
    settings = load_settings()
    clips, labels = make_dataset(args.generated, args.natural, frames=args.frames, size=args.size, seed=args.seed, settings=settings)
    result = evaluate(clips, labels, seed=args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    result["probe"].save(out / "probe.joblib")
    if args.install:
        settings.home.mkdir(parents=True, exist_ok=True)
        result["probe"].save(settings.home / "probe.joblib")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot(*result["roc"], label=f"clip AUC {result['clip_auc']:.3f}")
    ax.plot([0, 1], [0, 1], "k--", lw=0.8)
    ax.set_xlabel("false positive rate (camera clips)")
    ax.set_ylabel("true positive rate (generated clips)")
    ax.set_title(f"Passive probe, {result['test_clips']} held-out clips")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(out / "roc.png", dpi=120)
    summary = {k: v for k, v in result.items() if k not in ("probe", "roc")}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    Console().print(f"probe: frame ROC AUC {result['frame_auc']:.4f}, clip ROC AUC {result['clip_auc']:.4f} on "
                    f"{result['test_clips']} held-out clips (trained on {result['train_clips']}); saved to {out}")


if __name__ == "__main__":
    main()
