"""`skyseal detect`: the detector's verdict from the command line, for one file or a corpus."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import Annotated, Optional

import typer

from .cli import EXIT_ERROR, _print_json, _settings, app, err

EPILOG = """Examples:

  skyseal detect suspicious.mp4                      (one file: the JSON verdict on stdout)

  skyseal detect uploads/ more.mov -o verdicts.parquet  (folders too; JSONL / CSV / Parquet by suffix or --format)

  skyseal detect corpus/ -o v.jsonl --ray --ray-address ray://head:10001   (on a Ray cluster)
"""


@app.command(epilog=EPILOG)
def detect(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Videos, images, or folders of them (walked recursively).")],
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write one record per file here (else JSONL on stdout).")] = None,
    fmt: Annotated[Optional[str], typer.Option("--format", "-f", help="jsonl, csv or parquet (default: from the output suffix).")] = None,
    use_ray: Annotated[bool, typer.Option("--ray", help="Run on Ray Data (a local cluster unless --ray-address).")] = False,
    ray_address: Annotated[Optional[str], typer.Option("--ray-address", help="Address of a running Ray cluster (implies --ray).")] = None,
    max_frames: Annotated[int, typer.Option("--max-frames", min=1, max=1024, help="Frames sampled per file.")] = 64,
) -> None:
    """Say what is known about files' origin: C2PA, watermark, ledger and perceptual evidence, and a label."""
    from .batch import Detector, detect_paths, expand_paths, format_for, write_records
    from .errors import SkysealError

    settings = _settings(ctx)
    single = len(paths) == 1 and not paths[0].is_dir() and output is None and not (use_ray or ray_address)
    if single:
        detector = Detector.from_settings(settings, max_frames=max_frames)
        try:
            verdict = detector.verdict(paths[0])  # errors: one line on stderr and exit 1, from cli.main
        finally:
            detector.close()
        _print_json(verdict.to_dict())
        err.print(f"{verdict.label}: " + "; ".join(e.detail for e in verdict.basis or verdict.evidence), highlight=False)
        return

    files = expand_paths(paths)
    if not files:
        raise SkysealError("no media files found in " + ", ".join(str(p) for p in paths))
    kind = format_for(output, fmt) if output is not None else "jsonl"
    if use_ray or ray_address:
        from .distributed import detect_with_ray

        with err.status(f"detecting {len(files)} files on Ray…"):
            records = detect_with_ray(files, settings, address=ray_address, max_frames=max_frames)
        if output is None:
            _write_jsonl_stdout(records)
    else:
        records = _detect_with_progress(Detector.from_settings(settings, max_frames=max_frames), files, stream=output is None)
    if output is not None:
        write_records(records, output, kind)
        err.print(f"wrote {len(records)} records to {output} ({kind})")
    _summary(records)
    if any(r.get("error") for r in records):
        raise typer.Exit(EXIT_ERROR)


def _detect_with_progress(detector, files: list[Path], *, stream: bool) -> list[dict]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from .batch import detect_paths

    records: list[dict] = []
    try:
        with Progress(TextColumn("detect"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=err) as bar:
            task = bar.add_task("detect", total=len(files))
            for record in detect_paths(detector, files, on_done=lambda _r: bar.advance(task)):
                records.append(record)
                if stream:
                    _write_jsonl_stdout([record])
    finally:
        detector.close()
    return records


def _write_jsonl_stdout(records: list[dict]) -> None:
    import json

    for r in records:
        sys.stdout.write(json.dumps(r, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def _summary(records: list[dict]) -> None:
    counts = Counter(r.get("label") or "error" for r in records)
    err.print("  ".join(f"{label}: {n}" for label, n in sorted(counts.items())), highlight=False)
    for r in records:
        if r.get("error"):
            err.print(f"[red]error:[/] {r['error']}", highlight=False, soft_wrap=True)
