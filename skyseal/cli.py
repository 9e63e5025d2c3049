"""The ``skyseal`` command line: JSON on stdout, people's messages on stderr.

Exit codes: 0 success, 1 error (bad input, bad config), 2 blocked / held / not found.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from . import __version__
from .config import Settings, load_settings

EXIT_OK, EXIT_ERROR, EXIT_BLOCKED = 0, 1, 2

app = typer.Typer(
    name="skyseal",
    help="Content safety and provenance for generated video: generate, detect, verify.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"skyseal {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    config: Annotated[Optional[Path], typer.Option("--config", "-c", help="Settings YAML (default: $SKYSEAL_CONFIG or <home>/config.yaml).")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log each stage to stderr.")] = False,
    log_json: Annotated[bool, typer.Option("--log-json", help="Log every policy decision and stage to stderr as JSON lines (implies -v).")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")] = False,
) -> None:
    if log_json:
        from safety.logs import use_json_logs

        use_json_logs(level=logging.INFO, stream=sys.stderr)
    else:
        logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, stream=sys.stderr,
                            format="%(asctime)s %(levelname)s %(name)s %(message)s")
    ctx.obj = config


def _settings(ctx: typer.Context) -> Settings:
    return load_settings(ctx.obj)


def _print_json(data) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def _decision_table(title: str, decision) -> Table:
    table = Table(title=title, title_justify="left", show_header=True)
    table.add_column("action")
    table.add_column("categories")
    table.add_column("reasons")
    cats = ", ".join(f"{k}={v:.2f}" for k, v in decision.categories.items()) or "-"
    table.add_row(decision.action, cats, "\n".join(decision.reasons) or "-")
    return table


@app.command(epilog='Example: skyseal generate "a red ball bouncing at dusk" -o ball.mp4 --seed 7')
def generate(
    ctx: typer.Context,
    prompt: Annotated[str, typer.Argument(help="What the video should show.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the signed MP4.")] = Path("out.mp4"),
    seed: Annotated[Optional[int], typer.Option(help="Seed for reproducible output (random if omitted).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the full result as JSON on stdout.")] = False,
) -> None:
    """Generate a watermarked, C2PA-signed video from a prompt, through the safety policy."""
    from .pipeline import Pipeline

    settings = _settings(ctx)
    pipeline = Pipeline.from_settings(settings)
    try:
        with err.status("generating…"):
            result = pipeline.run(prompt, output=output, seed=seed)
    finally:
        pipeline.close()
    err.print(_decision_table("prompt filter", result.prompt_decision))
    if result.output_decision is not None:
        err.print(_decision_table("output classifiers", result.output_decision))
    if json_out:
        _print_json(result.to_dict())
    if result.status == "blocked":
        err.print(f"[bold red]blocked[/]: {result.reason}")
        raise typer.Exit(EXIT_BLOCKED)
    m = result.manifest
    err.print(f"payload [bold]{result.payload}[/]  model {result.model_version}  seed {result.seed}")
    err.print(f"C2PA {m.state}: {m.manifest_label}, issuer {m.issuer}, source {m.digital_source_type}")
    if result.status == "held_for_review":
        err.print(f"[yellow]held for review[/]: {result.reason}; written to the review queue at {result.path}")
        raise typer.Exit(EXIT_BLOCKED)
    err.print(f"[green]wrote[/] {result.path} (sha256 {result.sha256})")


# Commands that live in their own modules register themselves on `app` when imported.
from . import cli_detect  # noqa: E402,F401  (registers: detect)
from . import cli_audit  # noqa: E402,F401  (registers: audit run, audit report)
from . import cli_toolkit  # noqa: E402,F401  (registers: moderate, classify, watermark, sign, verify, ledger)
from . import cli_service  # noqa: E402,F401  (registers: serve, keys)


def main(argv: list[str] | None = None) -> int:
    """Entry point: expected failures become one line on stderr and exit code 1, never a traceback."""
    from provenance import ProvenanceError
    from safety import PolicyError, SafetyError

    from .errors import SkysealError

    try:
        rc = app(args=argv, standalone_mode=False)
    except typer.Exit as exc:  # raised where click does not turn it into a return value
        return exc.exit_code
    except (SkysealError, ProvenanceError, PolicyError, SafetyError) as exc:  # SafetyError: PromptError and friends
        err.print(f"[red]error:[/] {exc}", highlight=False, soft_wrap=True)
        return EXIT_ERROR
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    except Exception as exc:  # noqa: BLE001 - the last line of defence for people, logged in full with -v
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            return EXIT_ERROR
        if isinstance(exc, click.exceptions.Abort):
            return EXIT_ERROR
        logging.getLogger("skyseal").debug("unexpected error", exc_info=True)
        err.print(f"[red]error:[/] {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}", highlight=False, soft_wrap=True)
        return EXIT_ERROR
    return rc if isinstance(rc, int) else EXIT_OK


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
