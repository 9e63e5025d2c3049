"""Train the video DiT on the procedural world, resumably; export its EMA weights.

    python -m generator.train --config generator/configs/dit-s.yaml            # start (or --resume)
    python -m generator.train --config generator/configs/dit-s.yaml --resume   # continue from the checkpoint
    python -m generator.train --config generator/configs/dit-s.yaml --export   # checkpoint -> generator/weights/

Data: a fixed pool of (scene, caption) pairs drawn from the training split
(held-out colour x shape pairs never appear), caption token states encoded once
and cached on disk; each draw re-places the object's lane, which the caption
does not mention, and renders the clip fresh.  Objective: rectified flow with
logit-normal timesteps and caption dropout for classifier-free guidance.

The checkpoint (model, EMA, optimiser, step, RNG states, config, loss history)
is written atomically every ``checkpoint_every_s`` seconds, so a killed run
loses minutes, and resuming replays exactly the batches the run would have seen.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import hashlib
import json
import math
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import yaml

from .dit import DiTConfig, VideoDiT, count_parameters
from .world import Scene, render_clip, sample_captioned

ROOT = Path(__file__).resolve().parent
WEIGHTS_DIR = ROOT / "weights"
CHECKPOINT_DIR = ROOT / "checkpoints"


@dataclass
class TrainConfig:
    steps: int = 20000
    batch_size: int = 16
    lr: float = 5e-4
    warmup: int = 250
    # Constant rate after warm-up, except inside each anneal window (start, end):
    # there a linear fall to lr * lr_final_ratio, then back to the full rate (a
    # warm restart).  Resumed runs add windows, so the whole history of a
    # checkpoint stays in its config.  `decay_from` is the one-window shorthand
    # (decay_from, steps).
    anneals: list[tuple[int, int]] = field(default_factory=list)
    decay_from: int | None = None
    lr_final_ratio: float = 0.1
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    ema_decay: float = 0.999
    caption_dropout: float = 0.1
    # t = sigmoid(N(t_mean, t_std)); t = 1 is pure noise.  A positive mean leans
    # toward noisy inputs, where layout, shape and motion are decided.
    t_mean: float = 0.8
    t_std: float = 0.8
    pool_size: int = 12000  # distinct (scene, caption) pairs
    seed: int = 0
    threads: int = 1
    checkpoint_every_s: float = 300.0
    log_every: int = 25


@dataclass
class RunConfig:
    name: str
    model: DiTConfig
    train: TrainConfig = field(default_factory=TrainConfig)

    @classmethod
    def load(cls, path: str | Path) -> "RunConfig":
        raw = yaml.safe_load(Path(path).read_text())
        model = DiTConfig.from_dict({**raw.get("model", {}), "name": raw["name"]})
        train = TrainConfig(**raw.get("train", {}))
        return cls(name=raw["name"], model=model, train=train)

    def to_dict(self) -> dict:
        return {"name": self.name, "model": self.model.to_dict(), "train": dataclasses.asdict(self.train)}


# ---------------------------------------------------------------- data

class CaptionedPool:
    """A fixed pool of training scenes with their captions' MiniLM states."""

    def __init__(self, size: int, seed: int, *, cache_dir: Path | None = None, encoder=None) -> None:
        rng = np.random.default_rng(seed)
        pairs = [sample_captioned(rng, split="train") for _ in range(size)]
        self.scenes: list[Scene] = [s for s, _ in pairs]
        self.captions: list[str] = [c for _, c in pairs]
        self.states, self.mask = self._encode(cache_dir, encoder)

    def _encode(self, cache_dir: Path | None, encoder) -> tuple[torch.Tensor, torch.Tensor]:
        key = hashlib.sha256("\n".join(self.captions).encode()).hexdigest()[:16]
        path = cache_dir / f"text-{key}.pt" if cache_dir else None
        if path is not None and path.exists():
            cached = torch.load(path)
            return cached["states"], cached["mask"]
        if encoder is None:
            from .text_encoder import get_text_encoder
            encoder = get_text_encoder()
        text = encoder.encode(self.captions)
        states, mask = text.states.half(), text.mask
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            torch.save({"states": states, "mask": mask}, path)
        return states, mask

    def batch(self, rng: np.random.Generator, n: int, frames: int, size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        idx = rng.integers(len(self.scenes), size=n)
        clips = []
        for i in idx:
            scene = dataclasses.replace(self.scenes[i], start=(0.5, float(rng.uniform(0.3, 0.7))))
            clips.append(render_clip(scene, frames=frames, size=size))
        x = torch.from_numpy(np.stack(clips)).permute(0, 4, 1, 2, 3).float() / 127.5 - 1.0
        return x, self.states[idx].float(), self.mask[idx]


# ---------------------------------------------------------------- objective

def flow_matching_loss(model: VideoDiT, x0: torch.Tensor, states: torch.Tensor, mask: torch.Tensor,
                       generator: torch.Generator, t_mean: float = 0.8, t_std: float = 0.8,
                       t_min: float = 0.05) -> torch.Tensor:
    """Rectified flow: match the velocity v = noise - x0 at x_t = (1 - t) x0 + t noise.

    The target is written (x_t - x0) / max(t, t_min), the same floor the model's
    x0 -> v conversion uses, so the loss stays finite as t -> 0.
    """
    b = x0.shape[0]
    t = torch.sigmoid(t_mean + t_std * torch.randn(b, generator=generator))  # logit-normal
    noise = torch.randn(x0.shape, generator=generator)
    tt = t.view(b, 1, 1, 1, 1)
    xt = (1 - tt) * x0 + tt * noise
    v = model.velocity(xt, t, states, mask, t_min=t_min)
    target = noise - x0 if model.cfg.prediction == "v" else (xt - x0) / tt.clamp(min=t_min)
    return (v - target).pow(2).mean()


def drop_captions(states: torch.Tensor, mask: torch.Tensor, null_states: torch.Tensor, null_mask: torch.Tensor,
                  p: float, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    drop = torch.from_numpy(rng.random(states.shape[0]) < p)
    states = torch.where(drop[:, None, None], null_states.expand_as(states), states)
    mask = torch.where(drop[:, None], null_mask.expand_as(mask), mask)
    return states, mask


@torch.no_grad()
def ema_update(ema: VideoDiT, model: VideoDiT, decay: float) -> None:
    for pe, pm in zip(ema.parameters(), model.parameters()):
        pe.lerp_(pm, 1 - decay)


def lr_at(step: int, cfg: TrainConfig) -> float:
    lr = cfg.lr * min(1.0, (step + 1) / max(1, cfg.warmup))
    windows = list(cfg.anneals) + ([(cfg.decay_from, cfg.steps)] if cfg.decay_from is not None else [])
    for start, end in windows:
        # the last window holds its final rate to the end of the run
        if start <= step and (step <= end or end >= cfg.steps) and end > start:
            frac = min(1.0, (step - start) / (end - start))
            lr *= 1.0 - frac * (1.0 - cfg.lr_final_ratio)
            break
    return lr


# ---------------------------------------------------------------- the training state

class Trainer:
    def __init__(self, run: RunConfig, *, null_text: tuple[torch.Tensor, torch.Tensor], pool: CaptionedPool) -> None:
        self.run = run
        torch.manual_seed(run.train.seed)
        self.model = VideoDiT(run.model)
        self.ema = copy.deepcopy(self.model).requires_grad_(False)
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=run.train.lr, betas=(0.9, 0.99),
                                     weight_decay=run.train.weight_decay)
        self.step = 0
        self.data_rng = np.random.default_rng(run.train.seed + 1)
        self.noise_gen = torch.Generator().manual_seed(run.train.seed + 2)
        self.losses: list[tuple[int, float]] = []  # (step, mean loss over log_every steps)
        self._window: list[float] = []
        self.null_states, self.null_mask = null_text
        self.pool = pool

    def train_step(self) -> float:
        cfg, mc = self.run.train, self.run.model
        x0, states, mask = self.pool.batch(self.data_rng, cfg.batch_size, mc.frames, mc.size)
        states, mask = drop_captions(states, mask, self.null_states, self.null_mask, cfg.caption_dropout, self.data_rng)
        for group in self.opt.param_groups:
            group["lr"] = lr_at(self.step, cfg)
        loss = flow_matching_loss(self.model, x0, states, mask, self.noise_gen, cfg.t_mean, cfg.t_std)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
        self.opt.step()
        # EMA warm-up: early on the average would be dominated by the random init.
        ema_update(self.ema, self.model, min(cfg.ema_decay, (1 + self.step) / (10 + self.step)))
        self.step += 1
        value = loss.item()
        self._window.append(value)
        if len(self._window) == cfg.log_every:
            self.losses.append((self.step, float(np.mean(self._window))))
            self._window = []
        return value

    def state_dict(self) -> dict:
        return {
            "config": self.run.to_dict(),
            "model": self.model.state_dict(),
            "ema": self.ema.state_dict(),
            "opt": self.opt.state_dict(),
            "step": self.step,
            "data_rng": self.data_rng.bit_generator.state,
            "noise_gen": self.noise_gen.get_state(),
            "torch_rng": torch.get_rng_state(),
            "losses": self.losses,
        }

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.ema.load_state_dict(state["ema"])
        self.opt.load_state_dict(state["opt"])
        self.step = int(state["step"])
        self.data_rng.bit_generator.state = state["data_rng"]
        self.noise_gen.set_state(state["noise_gen"])
        torch.set_rng_state(state["torch_rng"])
        self.losses = [tuple(x) for x in state["losses"]]

    def save(self, path: Path) -> None:
        """Atomic: a crash mid-write leaves the previous checkpoint intact."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        torch.save(self.state_dict(), tmp)
        os.replace(tmp, path)

    def load(self, path: Path) -> None:
        self.load_state_dict(torch.load(path, weights_only=False))


# ---------------------------------------------------------------- outputs

def plot_losses(losses: list[tuple[int, float]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not losses:
        return
    steps, values = zip(*losses)
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    ax.plot(steps, values, lw=0.8, alpha=0.5, label="loss (mean per log interval)")
    if len(values) >= 20:
        k = 20
        smooth = np.convolve(values, np.ones(k) / k, mode="valid")
        ax.plot(steps[k - 1:], smooth, lw=1.6, label=f"moving average ({k})")
    ax.set_xlabel("step")
    ax.set_ylabel("flow-matching MSE")
    ax.set_yscale("log")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def export_weights(checkpoint: Path, out_dir: Path, *, command: str, ema: bool = True) -> Path:
    """Write the checkpoint's EMA (or raw) weights as fp16 safetensors, with config and provenance beside them."""
    from safetensors.torch import save_file

    state = torch.load(checkpoint, weights_only=False)
    run = state["config"]
    name = run["name"]
    weights = "ema" if ema else "model"
    tensors = {k: v.detach().to(torch.float16).contiguous() for k, v in state[weights].items()}
    meta = {"config": json.dumps(run["model"]), "step": str(state["step"]), "name": name, "command": command,
            "weights": weights}
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.safetensors"
    tmp = path.with_name(f".{path.name}.tmp")
    save_file(tensors, str(tmp), metadata=meta)
    os.chmod(tmp, 0o644)  # safetensors creates the file private; bundled weights are for everyone to read
    os.replace(tmp, path)  # a reader never sees half-written weights
    (out_dir / f"{name}.json").write_text(json.dumps(
        {"run": run, "step": state["step"], "weights": weights, "command": command,
         "final_loss": state["losses"][-1][1] if state["losses"] else None}, indent=2) + "\n")
    plot_losses(state["losses"], out_dir / f"{name}-loss.png", f"{name}: training loss (step {state['step']})")
    size_mb = path.stat().st_size / 2**20
    sheet = out_dir / f"{name}-contact-sheet.png"
    (out_dir / "README.md").write_text(
        f"# Bundled generator weights\n\n"
        f"`{name}.safetensors` ({size_mb:.1f} MB, fp16): the {weights} weights of `{name}` at training step "
        f"{state['step']}; model and training config in `{name}.json`, loss curve in `{name}-loss.png`.\n\n"
        f"Reproduce: `{command}` then "
        f"`{command.split(' --steps')[0]} --export{' --raw' if not ema else ''}`.\n\n"
        f"Judge: `python -m generator.evaluate --weights generator/weights/{name}.safetensors`"
        f"{f' (its contact sheet of held-out captions is kept as `{sheet.name}`)' if sheet.exists() else ''}.\n")
    return path


# ---------------------------------------------------------------- main

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m generator.train", description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", required=True)
    ap.add_argument("--resume", action="store_true", help="continue from the checkpoint if it exists")
    ap.add_argument("--steps", type=int, help="override train.steps (the total, not additional)")
    ap.add_argument("--threads", type=int, help="override train.threads (torch CPU threads)")
    ap.add_argument("--checkpoint", help=f"default {CHECKPOINT_DIR}/<name>.pt")
    ap.add_argument("--export", action="store_true", help="export the checkpoint's EMA weights and exit")
    ap.add_argument("--raw", action="store_true", help="with --export: the raw weights instead of the EMA")
    ap.add_argument("--out", default=str(WEIGHTS_DIR), help="export folder")
    ap.add_argument("--cache-dir", default="runs/cache", help="text-embedding cache")
    ap.add_argument("--plot", default=None, help="loss plot path (default runs/<name>/loss.png)")
    args = ap.parse_args(argv)

    run = RunConfig.load(args.config)
    if args.steps is not None:
        run.train.steps = args.steps
    if args.threads is not None:
        run.train.threads = args.threads
    ckpt = Path(args.checkpoint) if args.checkpoint else CHECKPOINT_DIR / f"{run.name}.pt"

    if args.export:
        step = torch.load(ckpt, weights_only=False)["step"]
        train_cmd = f"python -m generator.train --config {args.config} --steps {step}"
        path = export_weights(ckpt, Path(args.out), command=train_cmd, ema=not args.raw)
        print(f"exported {ckpt} -> {path}")
        return 0

    torch.set_num_threads(run.train.threads)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from .text_encoder import get_text_encoder

    encoder = get_text_encoder()
    null = encoder.null(1)
    pool = CaptionedPool(run.train.pool_size, run.train.seed, cache_dir=Path(args.cache_dir), encoder=encoder)
    trainer = Trainer(run, null_text=(null.states[0], null.mask[0]), pool=pool)
    if args.resume and ckpt.exists():
        trainer.load(ckpt)
        print(f"resumed {ckpt} at step {trainer.step}")
    elif ckpt.exists() and not args.resume:
        print(f"{ckpt} exists: pass --resume to continue it, or --checkpoint to start elsewhere", file=sys.stderr)
        return 2
    plot_path = Path(args.plot) if args.plot else Path("runs") / run.name / "loss.png"
    print(f"{run.name}: {count_parameters(trainer.model) / 1e6:.2f} M parameters, "
          f"{math.prod(run.model.grid)} tokens/clip, batch {run.train.batch_size}, threads {run.train.threads}")

    # SIGTERM/SIGINT finish the current step, write the checkpoint and exit, so a
    # run stopped at the end of a session loses nothing.
    stop = {"signal": None}

    def _request_stop(signum, _frame):
        stop["signal"] = signal.Signals(signum).name

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _request_stop)

    last_save = time.time()
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("loss {task.fields[loss]}"),
                  TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                  refresh_per_second=1) as progress:
        task = progress.add_task(run.name, total=run.train.steps, completed=trainer.step, loss="-", rate="")
        t_window, logged = time.time(), len(trainer.losses)
        while trainer.step < run.train.steps and stop["signal"] is None:
            trainer.train_step()
            if len(trainer.losses) > logged:
                step, loss = trainer.losses[-1]
                rate = (time.time() - t_window) / run.train.log_every
                progress.update(task, completed=step, loss=f"{loss:.4f}", rate=f"{rate:.2f}s/step")
                if not sys.stdout.isatty():  # a log file gets one plain line per interval
                    print(f"step {step} loss {loss:.5f} {rate:.2f}s/step", flush=True)
                t_window, logged = time.time(), len(trainer.losses)
            if time.time() - last_save > run.train.checkpoint_every_s or trainer.step == run.train.steps:
                trainer.save(ckpt)
                plot_losses(trainer.losses, plot_path, f"{run.name}: training loss")
                last_save = time.time()
    if stop["signal"] is not None:
        trainer.save(ckpt)
        plot_losses(trainer.losses, plot_path, f"{run.name}: training loss")
        print(f"{stop['signal']}: stopped at step {trainer.step}, checkpoint {ckpt} (resume with --resume)")
        return 0
    print(f"done: step {trainer.step}, checkpoint {ckpt}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
