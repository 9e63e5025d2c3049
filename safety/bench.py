"""Latency benchmark of the prompt filter.

    python -m safety.bench                 # single-prompt p50/p95 and batched throughput
    python -m safety.bench --n 2000 --single 300 --batch-size 256

Targets (on 2 cores): one prompt p50 under 10 ms; over 500 prompts/s batched.
As a reference measured in the same run, the table also shows the bare embedder
(MiniLM encode of the same prompts, no filter logic) and the lexicon-only filter, so
a slow machine shows up as slow references rather than as a regression.
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
from .semantic import get_embedder

P50_TARGET_MS, THROUGHPUT_TARGET = 10.0, 500.0


def _single(fn, prompts, label) -> list[float]:
    times = []
    for p in track(prompts, description=f"single: {label}", transient=True, console=Console(stderr=True)):
        t = time.perf_counter()
        fn(p)
        times.append((time.perf_counter() - t) * 1000)
    return times


def _batched(fn, prompts, batch_size) -> float:
    t = time.perf_counter()
    for i in range(0, len(prompts), batch_size):
        fn(prompts[i:i + batch_size])
    return len(prompts) / (time.perf_counter() - t)


def _pct(values, q):
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Prompt filter latency and throughput (see module docstring).")
    ap.add_argument("--n", type=int, default=1000, help="prompts for the batched run")
    ap.add_argument("--single", type=int, default=200, help="prompts timed one at a time")
    ap.add_argument("--batch-size", type=int, default=256)
    args = ap.parse_args(argv)
    console = Console()
    texts = [p.text for p in load_prompt_set()]
    batch = (texts * (args.n // len(texts) + 1))[:args.n]
    single = (texts * (args.single // len(texts) + 1))[:args.single]

    full, lexicon, embedder = PromptFilter(), PromptFilter.lexicon_only(), get_embedder()
    for warm in (full, lexicon):  # load models, fill caches
        warm.check_batch(texts[:32])
    embedder.encode(texts[:32])

    rows = []
    for label, one, many in [
        ("reference: MiniLM encode only", lambda p: embedder.encode([p]), lambda ps: embedder.encode(ps)),
        ("lexicon-only filter", lexicon.check, lexicon.check_batch),
        ("full filter (default)", full.check, full.check_batch),
    ]:
        times = _single(one, single, label)
        with Console(stderr=True).status(f"batched: {label}"):
            rate = _batched(many, batch, args.batch_size)
        rows.append((label, _pct(times, 50), _pct(times, 95), rate))

    table = Table(title=f"prompt filter latency ({len(single)} single prompts, {len(batch)} batched in {args.batch_size}s)")
    for col in ["mode", "p50 ms", "p95 ms", "prompts/s batched"]:
        table.add_column(col, justify="left" if col == "mode" else "right")
    for label, p50, p95, rate in rows:
        table.add_row(label, f"{p50:.2f}", f"{p95:.2f}", f"{rate:.0f}")
    console.print(table)
    _, p50, _, rate = rows[-1]
    ref_p50, ref_rate = rows[0][1], rows[0][3]
    console.print(f"full filter vs targets: p50 {p50:.2f} ms (target < {P50_TARGET_MS:.0f} ms: "
                  f"{'met' if p50 < P50_TARGET_MS else 'missed'}), {rate:.0f} prompts/s "
                  f"(target > {THROUGHPUT_TARGET:.0f}: {'met' if rate > THROUGHPUT_TARGET else 'missed'}).  "
                  f"Against the bare encoder in this run: p50 x{p50 / ref_p50:.2f}, throughput x{rate / ref_rate:.2f}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
