"""Latency benchmark of the prompt filter.

    python -m safety.bench                 # single-prompt p50/p95 and batched throughput
    python -m safety.bench --n 2000 --single 300 --batch-size 256

Targets (on 2 cores): one prompt p50 under 10 ms; over 500 prompts/s batched.
Measured in the same run: the bare embedders (MiniLM encode of the same prompts, no
filter logic, at the depth the default heads use) on the torch path and on the ONNX Runtime
path, the full six-layer sentence embedding on ONNX Runtime (the reference the truncation is
measured against), the lexicon-only filter,
and the full filter on each path; ratios compare the ONNX path with torch.  On a shared
machine the absolute numbers move with the load; the ratios much less.
torch runs with ``torch.get_num_threads()`` threads (set OMP_NUM_THREADS), ONNX Runtime
with ``--threads``.  The prompts are distinct (no cache can help).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from rich.console import Console
from rich.progress import track
from rich.table import Table

from .dataset import load_prompt_set
from .prompt_filter import PromptFilter
from .semantic import MINILM_LAYERS, EncoderAdapter, SemanticHeads, SentenceEmbedder

P50_TARGET_MS, THROUGHPUT_TARGET = 10.0, 500.0


def _single(fn, prompts, label) -> list[float]:
    times = []
    for p in track(prompts, description=f"single: {label}", transient=True, console=Console(stderr=True)):
        t = time.perf_counter()
        fn(p)
        times.append((time.perf_counter() - t) * 1000)
    return times


def _batched(fn, prompts, batch_size) -> tuple[float, float]:
    """Prompts per second of wall time, and per second of this process's CPU time (what the run
    would reach with a core to itself: on a shared machine the wall rate reflects the load)."""
    t, cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(prompts), batch_size):
        fn(prompts[i:i + batch_size])
    return len(prompts) / (time.perf_counter() - t), len(prompts) / max(time.process_time() - cpu, 1e-9)


def _pct(values, q):
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Prompt filter latency and throughput (see module docstring).")
    ap.add_argument("--n", type=int, default=1000, help="prompts for the batched run")
    ap.add_argument("--single", type=int, default=200, help="prompts timed one at a time")
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2, help="chunks of a batch onnxruntime encodes at once, one core each (the targets are for 2 cores)")
    ap.add_argument("--no-torch", action="store_true", help="skip the torch reference rows")
    args = ap.parse_args(argv)
    console = Console()
    texts = [p.text for p in load_prompt_set()]
    batch = (texts * (args.n // len(texts) + 1))[:args.n]
    single = (texts * (args.single // len(texts) + 1))[:args.single]

    import torch

    heads = SemanticHeads.load()  # the encoder the default heads were fitted on: depth, pooling, adapter
    layers, pooling = heads.encoder_layers, heads.pooling
    adapter = EncoderAdapter.load(heads.encoder_adapter) if heads.encoder_adapter else None
    onnx = SentenceEmbedder(backend="onnx", threads=args.threads, layers=layers, pooling=pooling, adapter=adapter)
    modes = [("ONNX Runtime encode only", onnx, None)]
    if layers < MINILM_LAYERS:
        modes.append((f"ONNX Runtime encode, all {MINILM_LAYERS} layers",
                      SentenceEmbedder(backend="onnx", threads=args.threads), None))
    if not args.no_torch:
        modes.insert(0, ("torch encode only", SentenceEmbedder(backend="torch", layers=layers, pooling=pooling, adapter=adapter), None))
    lexicon = PromptFilter.lexicon_only()
    modes.append(("lexicon-only filter", None, lexicon))
    if not args.no_torch:
        modes.append(("full filter, torch path", None, PromptFilter(embedder=modes[0][1])))
    modes.append(("full filter, ONNX path (default)", None, PromptFilter(embedder=onnx)))
    rows = {}
    for label, embedder, filter_ in modes:
        one, many = ((lambda p, e=embedder: e.encode([p]), embedder.encode) if embedder is not None
                     else (filter_.check, filter_.check_batch))
        many(texts[:32])  # load models, fill caches
        times = _single(one, single, label)
        with Console(stderr=True).status(f"batched: {label}"):
            rate = _batched(many, batch, args.batch_size)
        rows[label] = (_pct(times, 50), _pct(times, 95), *rate)

    table = Table(title=f"prompt filter latency ({len(single)} single prompts, {len(batch)} batched in {args.batch_size}s; "
                        f"MiniLM layers 1-{layers}; torch {torch.get_num_threads()} thread(s), onnxruntime {args.threads})")
    for col in ["mode", "p50 ms", "p95 ms", "prompts/s batched", "per CPU-second"]:
        table.add_column(col, justify="left" if col == "mode" else "right")
    for label, (p50, p95, rate, cpu_rate) in rows.items():
        table.add_row(label, f"{p50:.2f}", f"{p95:.2f}", f"{rate:.0f}", f"{cpu_rate:.0f}")
    console.print(table)
    p50, _, rate, cpu_rate = rows["full filter, ONNX path (default)"]
    console.print(f"full filter vs targets: p50 {p50:.2f} ms (target < {P50_TARGET_MS:.0f} ms: "
                  f"{'met' if p50 < P50_TARGET_MS else 'missed'}), {rate:.0f} prompts/s "
                  f"(target > {THROUGHPUT_TARGET:.0f}: {'met' if rate > THROUGHPUT_TARGET else 'missed'}; "
                  f"{cpu_rate:.0f} per CPU-second).")
    if layers < MINILM_LAYERS:
        old = rows[f"ONNX Runtime encode, all {MINILM_LAYERS} layers"]
        new = rows["ONNX Runtime encode only"]
        console.print(f"encoder, layers 1-{layers} vs all {MINILM_LAYERS} in this run: p50 x{old[0] / new[0]:.2f} faster, "
                      f"throughput x{new[2] / old[2]:.2f}.")
    if not args.no_torch:
        for what, new, old in [("encoder", "ONNX Runtime encode only", "torch encode only"),
                               ("full filter", "full filter, ONNX path (default)", "full filter, torch path")]:
            console.print(f"{what}, ONNX vs torch in this run: p50 x{rows[old][0] / rows[new][0]:.2f} faster, "
                          f"throughput x{rows[new][2] / rows[old][2]:.2f}.")
    try:
        load = " ".join(f"{x:.2f}" for x in __import__("os").getloadavg())
        console.print(f"load average during the run: {load} (on {__import__('os').cpu_count()} cores)")
    except OSError:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
