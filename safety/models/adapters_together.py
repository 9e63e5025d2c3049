"""Many encoder-adapter fits run in lockstep in one process (``train_encoder --together``).

One step of one adapter fit is tiny (96 prompts of ~20 tokens through three MiniLM layers), so one
process per adapter leaves a GPU mostly waiting (stop 22: eleven such processes side by side on an H100,
215 s).  Here the jobs share one frozen base model and each brings its own LoRA weights, classifier,
optimiser state, schedule and random streams; a step stacks every job's rows, runs each layer once and
applies the low-rank updates as batched matrix products (stop 26, H100: 33 adapters in 510 s, rows pooled in
8 runs).  A step costs about what one job's does: it is bound by the host launching kernels, not by the GPU
(H200: 120 ms a step for one job, 133 ms for 33; 81 ms for 33 in 2 runs; TF32 changed nothing), so one call
should fit every adapter wanted.

Each job starts from the numbers and draws the batches that :func:`train_encoder.fit_adapter` would
with its seed, so with dropout off its adapter is that fit's to float rounding (tested on the CPU).
With dropout on (the recipe: ``fit_adapter`` trains in train mode) the masks come from one stream
for all jobs, so the bits differ as they already do between machines.  No checkpoints: on a GPU the
whole run takes minutes; on a CPU use ``train_encoder`` without ``--together``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from safety.models.train_encoder import (ALPHA, BATCH, EPOCHS, HEAD_LR, LR, RANK, _lora_modules, adapter_from, default_device,
                                         epoch_batches, length_runs, lr_factor, pool_jobs_by_length, wrap_targets)
from safety.semantic import EncoderAdapter, _default_model_path, _Pooled, embedding_dim


@dataclass
class AdapterJob:
    """One adapter to fit: token-id rows, integer labels, counterfactual pairs (row i, row j), a seed, and
    the weight of its invariance term (None: the call's ``invariance``), so one call can sweep that weight."""

    ids: Sequence[Sequence[int]]
    labels: Sequence[int]
    pairs: Sequence[tuple[int, int]] = ()
    seed: int = 0
    invariance: float | None = None


def _batches(job: AdapterJob, epochs: int, paired: bool) -> Iterator[tuple[int, np.ndarray, np.ndarray | None, bool]]:
    """(epoch, rows of the step, pair rows or None, last step of the epoch), drawn as fit_adapter draws them."""
    rng = np.random.default_rng(job.seed)
    pair_rng = np.random.default_rng(job.seed + 1)
    pairs = np.asarray(job.pairs, np.int64).reshape(-1, 2)
    for epoch in range(epochs):
        for step, (chunk, pick) in enumerate(epoch_batches(len(job.ids), pairs, rng, pair_rng, paired and len(pairs) > 0)):
            yield epoch, chunk, pick, (step + 1) * BATCH >= len(job.ids)


def _multi_lora(torch, bert, rank: int, starts: list[dict[str, object]]):
    """Wrap each target linear layer so it adds every job's low-rank update to that job's rows.
    ``starts[j][name]`` is job j's initial A for the layer ``name`` (B starts at zero)."""

    class MultiLoRA(torch.nn.Module):
        def __init__(self, base, name: str) -> None:
            super().__init__()
            self.base = base
            self.A = torch.nn.ParameterList([torch.nn.Parameter(s[name].clone()) for s in starts])
            self.B = torch.nn.ParameterList([torch.nn.Parameter(torch.zeros(base.out_features, rank)) for _ in starts])
            self.a = self.b = None  # the active jobs' weights, stacked once per step by stack()

        def stack(self, active: list[int]) -> None:
            self.a = torch.stack([self.A[j] for j in active])
            self.b = torch.stack([self.B[j] for j in active])

        def forward(self, x):
            # x holds the active jobs' rows job after job: one batched product per factor.
            xs = x.reshape(self.a.shape[0], -1, x.shape[-1])
            delta = torch.bmm(torch.bmm(xs, self.a.transpose(1, 2)), self.b.transpose(1, 2))
            return self.base(x) + delta.reshape(*x.shape[:-1], -1) * (ALPHA / rank)

    return wrap_targets(bert, lambda name, base: MultiLoRA(base, name))


def fit_adapters_together(jobs: Sequence[AdapterJob], n_classes: int, layers: int, pooling: str, epochs: int = EPOCHS,
                          rank: int = RANK, device: str | None = None, model_path: Path | None = None,
                          invariance: float = 0.0, pairing: str = "benign", runs: int | None = None,
                          progress: Callable[[int, int, float], None] | None = None) -> list[EncoderAdapter]:
    """Fit one adapter per job, all in lockstep; ``progress(job, epoch, loss)`` after each job's epoch.
    Same arguments and recipe as :func:`train_encoder.fit_adapter`; ``runs``: padded runs a step's rows are pooled
    in (default: train_encoder.length_runs)."""
    import torch

    device = device or default_device()
    runs = runs or length_runs(device)
    model_path = model_path or _default_model_path()
    dim = embedding_dim(pooling)
    starts = {}
    for seed in sorted({job.seed for job in jobs}):
        # fit_adapter seeds torch, loads the model, then draws the adapter and the classifier: same order here.
        torch.manual_seed(seed)
        probe = _Pooled(model_path, layers, pooling)
        single = _lora_modules(torch, probe.bert, rank)
        head = torch.nn.Linear(dim, n_classes)
        starts[seed] = ({name: m.A.detach().clone() for name, m in single.items()},
                        head.weight.detach().clone(), head.bias.detach().clone())
    model = _Pooled(model_path, layers, pooling)
    for p in model.parameters():
        p.requires_grad_(False)
    wrapped = _multi_lora(torch, model.bert, rank, [starts[job.seed][0] for job in jobs])
    weights = torch.nn.ParameterList([torch.nn.Parameter(starts[job.seed][1].clone()) for job in jobs])
    biases = torch.nn.ParameterList([torch.nn.Parameter(starts[job.seed][2].clone()) for job in jobs])
    model.to(device)
    weights.to(device)
    biases.to(device)
    groups = []
    for j in range(len(jobs)):
        groups.append({"params": [p for m in wrapped.values() for p in (m.A[j], m.B[j])], "lr": LR})
        groups.append({"params": [weights[j], biases[j]], "lr": HEAD_LR})
    # One fused kernel a group on a GPU, where the per-tensor loop would cost more launches than the model.
    optimiser = torch.optim.AdamW(groups, weight_decay=0.01, fused=torch.device(device).type == "cuda")

    weight_of = [float(invariance if job.invariance is None else job.invariance) for job in jobs]
    paired = any(w and len(job.pairs) for w, job in zip(weight_of, jobs))
    steps = [epochs * math.ceil(len(job.ids) / BATCH) for job in jobs]
    draws = [_batches(job, epochs, bool(w)) for w, job in zip(weight_of, jobs)]
    labels = [np.asarray(job.labels, np.int64) for job in jobs]
    totals = torch.zeros(len(jobs), device=device, dtype=torch.float64)
    model.train()
    for step in range(max(steps)):
        active = [j for j in range(len(jobs)) if step < steps[j]]
        for m in wrapped.values():
            m.stack(active)
        rows, targets, valid, pair_weight, ends = [], [], [], [], []
        for j in active:
            epoch, chunk, pick, last = next(draws[j])
            ids = jobs[j].ids
            # A job's rows in a step: its batch (padded with copies, not scored), then both sides of its pairs.
            job_rows = [ids[i] for i in chunk] + [ids[chunk[0]]] * (BATCH - len(chunk))
            if paired:
                job_rows += [ids[i] for i in pick.T.ravel()] if pick is not None else [ids[chunk[0]]] * (2 * BATCH)
            rows.append(job_rows)
            targets.append(np.pad(labels[j][chunk], (0, BATCH - len(chunk))))
            valid.append(len(chunk))
            pair_weight.append(weight_of[j] if pick is not None else 0.0)
            ends.append((j, epoch, last))
        pooled = pool_jobs_by_length(model, rows, device, runs)
        weight, bias = torch.stack([weights[j] for j in active]), torch.stack([biases[j] for j in active])
        logits = torch.baddbmm(bias[:, None, :], pooled[:, :BATCH] * 20, weight.transpose(1, 2))
        nll = -torch.log_softmax(logits, -1).gather(-1, torch.from_numpy(np.stack(targets)).to(device)[..., None]).squeeze(-1)
        counts = torch.tensor(valid, device=device)
        loss = (nll * (torch.arange(BATCH, device=device)[None, :] < counts[:, None])).sum(1) / counts
        if paired:
            first, second = pooled[:, BATCH:2 * BATCH], pooled[:, 2 * BATCH:]
            loss = loss + torch.tensor(pair_weight, device=device) * (first - second).pow(2).sum(-1).mean(1)
        for j in active:
            factor = lr_factor(step, steps[j])
            optimiser.param_groups[2 * j]["lr"] = LR * factor
            optimiser.param_groups[2 * j + 1]["lr"] = HEAD_LR * factor
        optimiser.zero_grad()
        loss.sum().backward()  # the jobs share no parameter, so each gets its own loss's gradient
        optimiser.step()
        # Summed on the device: reading a loss back every step would make the host wait for the device.
        totals.index_add_(0, torch.tensor(active, device=device), loss.detach().double() * counts)
        for j, epoch, last in ends:
            if last:
                if progress is not None:
                    progress(j, epoch, totals[j].item() / len(jobs[j].ids))
                totals[j] = 0.0
    model.eval()
    adapters = []
    for j, job in enumerate(jobs):
        factors = {name: (m.A[j], m.B[j]) for name, m in wrapped.items()}
        adapters.append(adapter_from(factors, rank, layers, pooling, epochs, len(job.ids), device, weight_of[j],
                                     len(job.pairs), pairing, job.seed))
    return adapters

