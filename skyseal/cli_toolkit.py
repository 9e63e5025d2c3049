"""Toolkit commands: each stage on its own (moderate, classify, watermark, sign, verify, ledger).

JSON on stdout, people's messages on stderr; exit 0 ok, 1 error, 2 blocked or not found.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.progress import Progress

from . import toolkit
from .cli import EXIT_BLOCKED, _print_json, _settings, app, err

watermark_app = typer.Typer(help="Embed or detect Skyseal's invisible video watermark.", no_args_is_help=True)
ledger_app = typer.Typer(help="Look up generations in the ledger.", no_args_is_help=True)
app.add_typer(watermark_app, name="watermark")
app.add_typer(ledger_app, name="ledger")

# Show a progress bar only for inputs long enough for it to matter.
PROGRESS_MIN_PROMPTS = 1000


@app.command(epilog='Examples: skyseal moderate "a red ball bouncing" "a nude beach"\n\n'
                    "skyseal moderate --file prompts.csv > decisions.jsonl\n\n"
                    "cat prompts.txt | skyseal moderate --file -")
def moderate(
    ctx: typer.Context,
    prompts: Annotated[Optional[list[str]], typer.Argument(help="Prompts to check.")] = None,
    file: Annotated[Optional[str], typer.Option("--file", "-f", help="Text (one prompt a line), CSV or JSONL with a 'prompt' column; '-' reads stdin.")] = None,
) -> None:
    """Check prompts against the policy: one JSON object per prompt on stdout, in input order.

    Exits 2 when any prompt is blocked.
    """
    items = list(prompts or [])
    if file is not None:
        items += toolkit.read_prompts(file)
    if not items:
        raise toolkit.InputError("no prompts: give PROMPT arguments or --file")
    settings = _settings(ctx)
    blocked = False
    show = len(items) >= PROGRESS_MIN_PROMPTS
    with Progress(console=err, transient=True, disable=not show) as progress:
        task = progress.add_task("moderating", total=len(items))
        for record in toolkit.moderate(items, settings, on_progress=lambda n: progress.advance(task, n)):
            blocked |= record["action"] == "block"
            sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
    if blocked:
        raise typer.Exit(EXIT_BLOCKED)


@app.command(epilog="Example: skyseal classify upload.mp4")
def classify(
    ctx: typer.Context,
    video: Annotated[Path, typer.Argument(help="A video or image to classify.")],
) -> None:
    """Run the output classifiers on an existing video: per-category scores and the frames that drove them.

    Exits 2 when the policy would block the video.
    """
    result = toolkit.classify_video(video, _settings(ctx))
    _print_json(result)
    err.print(f"{result['action']}: " + ("; ".join(result["reasons"]) or "no category fired"))
    if result["action"] == "block":
        raise typer.Exit(EXIT_BLOCKED)


@watermark_app.command("embed", epilog="Example: skyseal watermark embed in.mp4 marked.mp4 --payload 0123456789ab")
def watermark_embed(
    ctx: typer.Context,
    source: Annotated[Path, typer.Argument(help="Video or image to mark.")],
    dest: Annotated[Path, typer.Argument(help="Where to write the marked H.264 MP4 (audio is not carried over).")],
    payload: Annotated[str, typer.Option(help="12 hex digits (generation id; the CRC is added) or 16 (id + CRC).")],
) -> None:
    """Embed a payload in every frame and write an H.264 MP4."""
    result = toolkit.embed_watermark(source, dest, payload, _settings(ctx))
    _print_json(result)
    err.print(f"marked {result['frames']} frames with {result['payload']} -> {dest}")


@watermark_app.command("detect", epilog="Example: skyseal watermark detect suspicious.mp4")
def watermark_detect(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Video or image to examine.")],
) -> None:
    """Look for a watermark: payload, confidence and p-value under "no watermark". Exits 2 when none is found."""
    result = toolkit.detect_watermark(file, _settings(ctx))
    _print_json(result)
    if not result["found"]:
        err.print("no watermark found")
        raise typer.Exit(EXIT_BLOCKED)
    err.print(f"watermark {result['payload']} (p={result['p_value']:.1e})")


@app.command(epilog="Example: skyseal sign clip.mp4 clip-signed.mp4 --source-type trainedAlgorithmicMedia")
def sign(
    ctx: typer.Context,
    source: Annotated[Path, typer.Argument(help="MP4/MOV video or JPEG/PNG image to sign.")],
    dest: Annotated[Path, typer.Argument(help="Where to write the signed copy.")],
    source_type: Annotated[str, typer.Option(help=f"IPTC digital source type: {', '.join(toolkit.SOURCE_TYPES)}.")] = "trainedAlgorithmicMedia",
) -> None:
    """Add C2PA Content Credentials with the configured signer (the development CA by default)."""
    result = toolkit.sign(source, dest, _settings(ctx), source_type=source_type)
    _print_json(result)
    err.print(f"signed {dest}: C2PA {result['state']}, manifest {result['manifest_label']}")


@app.command(epilog="Example: skyseal verify clip-signed.mp4")
def verify(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="File whose C2PA manifest to verify.")],
) -> None:
    """Verify C2PA credentials against the configured trust anchors.

    Exits 0 when the manifest is Trusted or Valid, 2 when it is absent or Invalid.
    """
    result = toolkit.verify(file, _settings(ctx))
    _print_json(result)
    failures = f" ({', '.join(result['failures'])})" if result["failures"] else ""
    err.print(f"C2PA {result['state']}{failures}")
    if result["state"] not in ("Trusted", "Valid"):
        raise typer.Exit(EXIT_BLOCKED)


@ledger_app.command("show", epilog="Example: skyseal ledger show 656fc77683f7373e")
def ledger_show(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="Watermark payload (16 hex digits) or file SHA-256 (64 hex digits).")],
) -> None:
    """Print the generation record for a payload or a file hash. Exits 2 when there is none."""
    try:
        _print_json(toolkit.ledger_show(key, _settings(ctx)))
    except toolkit.NotFound as exc:
        err.print(str(exc))
        raise typer.Exit(EXIT_BLOCKED) from None


@ledger_app.command("decisions", epilog="Examples: skyseal ledger decisions --action block --limit 20\n\n"
                                        "skyseal ledger decisions --outcome held_for_review")
def ledger_decisions(
    ctx: typer.Context,
    action: Annotated[Optional[str], typer.Option(help="Only this action: allow, review or block.")] = None,
    outcome: Annotated[Optional[str], typer.Option(help="Only this outcome: delivered, blocked or held_for_review.")] = None,
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 100,
) -> None:
    """Recent policy decisions with their reasons, one JSON object a line (refusals included)."""
    for entry in toolkit.ledger_decisions(_settings(ctx), action=action, outcome=outcome, limit=limit):
        sys.stdout.write(json.dumps(entry, ensure_ascii=False, default=str) + "\n")
