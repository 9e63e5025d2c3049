"""`skyseal detect`: the detector's verdict from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .cli import _print_json, _settings, app, err


@app.command(epilog="Example: skyseal detect suspicious.mp4")
def detect(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="A video or image to examine.")],
) -> None:
    """Say what is known about a file's origin: C2PA, watermark and ledger evidence, as JSON."""
    from provenance import Ledger

    from .components import build_watermarker
    from .detect import detect_file
    from .signing import trust_anchors

    settings = _settings(ctx)
    with Ledger(settings.ledger_path) as ledger:
        verdict = detect_file(file, watermarker=build_watermarker(settings.provenance), ledger=ledger,
                              trust_anchors_pem=trust_anchors(settings))
    _print_json(verdict.to_dict())
    err.print(f"{verdict.label}: " + "; ".join(verdict.evidence))
