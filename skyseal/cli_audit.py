"""`skyseal audit run SUITE` and `skyseal audit report`: bias audits from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from .cli import EXIT_ERROR, _print_json, _settings, app, err

audit_app = typer.Typer(
    name="audit",
    help="Bias audits: run demographic prompt suites through the road, then build the reports.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(audit_app, name="audit")

DEFAULT_RUNS = Path("runs") / "audits"
GATE_FAILED = 3  # `audit gate`: ran, and found identity refusals (1 stays "could not run")


def _fail(message: str) -> None:
    err.print(f"[red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(EXIT_ERROR)


@audit_app.command(
    "run",
    epilog="Example: skyseal audit run occupations --samples 4 --out runs/audits/occupations  "
    "(re-running skips finished samples; bundled suites: occupations, activities, adjectives, representation, smoke)",
)
def run_cmd(
    ctx: typer.Context,
    suite: Annotated[str, typer.Argument(help="A bundled suite name or a suite YAML file.")],
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Run directory (default: runs/audits/<suite>).")] = None,
    samples: Annotated[Optional[int], typer.Option("--samples", "-n", min=1, help="Samples per prompt (default: the suite's).")] = None,
    frames: Annotated[int, typer.Option(min=1, max=64, help="Frames per audited clip.")] = 4,
    size: Annotated[int, typer.Option(min=64, max=512, help="Clip size in pixels.")] = 128,
    use_ray: Annotated[bool, typer.Option("--ray", help="Fan samples out over local Ray workers.")] = False,
    workers: Annotated[int, typer.Option(min=1, help="Ray workers (CPUs) when --ray.")] = 2,
    save_frames: Annotated[bool, typer.Option("--save-frames/--no-save-frames", help="Keep a contact sheet PNG per clip.")] = True,
    filter_only: Annotated[bool, typer.Option("--filter-only", help="Audit the prompt filter alone; generate nothing.")] = False,
    clip_model: Annotated[Optional[str], typer.Option(help="open_clip architecture for zero-shot perceived attributes, e.g. ViT-B-32.")] = None,
    clip_pretrained: Annotated[Optional[Path], typer.Option(help="Local CLIP checkpoint for --clip-model (nothing is downloaded).")] = None,
    report: Annotated[bool, typer.Option("--report", help="Build the HTML reports when the run finishes.")] = False,
) -> None:
    """Run a suite through prompt filter -> generator -> output classifiers; write one tidy results table."""
    from audits.suites import load_suite

    from .audit_runner import AuditOptions, build_report, run_audit

    try:
        loaded = load_suite(suite)
    except FileNotFoundError as exc:
        _fail(str(exc))
    except (KeyError, ValueError, TypeError) as exc:
        _fail(f"suite {suite!r} is invalid: {exc}")
    run_dir = out or DEFAULT_RUNS / loaded.name
    settings = _settings(ctx)
    if bool(clip_model) != bool(clip_pretrained):
        _fail("--clip-model and --clip-pretrained go together (without both, CLIP attributes are skipped)")
    if clip_pretrained is not None and not clip_pretrained.is_file():
        _fail(f"CLIP checkpoint not found: {clip_pretrained}")
    options = AuditOptions(num_frames=frames, size=size, save_frames=save_frames, generate=not filter_only,
                           clip_model=clip_model, clip_pretrained=str(clip_pretrained) if clip_pretrained else None)
    from audits.clip_attributes import ClipUnavailable

    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=err, transient=True) as bar:
        task = bar.add_task(f"audit {loaded.name}", total=None)
        try:
            result = run_audit(suite, settings, run_dir, samples_per_prompt=samples, options=options, use_ray=use_ray,
                               num_cpus=workers, progress=lambda done, total: bar.update(task, completed=done, total=total))
        except ClipUnavailable as exc:
            _fail(str(exc))
    summary = result.summary()
    if report:
        with err.status("building reports…"):
            summary["report"] = build_report(run_dir)
    _print_json(summary)
    err.print(f"[green]audited[/] {summary['samples']} samples ({summary['from_cache']} from cache) -> {result.results_path}")


@audit_app.command(
    "report",
    epilog="Example: skyseal audit report --run runs/audits/occupations  (opens nothing; prints the HTML paths as JSON)",
)
def report_cmd(
    run: Annotated[Path, typer.Option("--run", "-r", help="A run directory written by `skyseal audit run`.")] = DEFAULT_RUNS / "occupations",
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Report directory (default: <run>/report).")] = None,
    resamples: Annotated[int, typer.Option(min=100, help="Bootstrap resamples for the intervals.")] = 2000,
    alpha: Annotated[float, typer.Option(min=0.0001, max=0.5, help="Family-wise error rate (Holm).")] = 0.05,
) -> None:
    """Execute the audit notebooks on a finished run and export self-contained HTML reports with plots and tables."""
    from .audit_runner import RESULTS_FILE, build_report

    if not (run / RESULTS_FILE).is_file():
        _fail(f"no audit results in {run}: run `skyseal audit run SUITE --out {run}` first")
    with err.status("executing the audit notebooks…") as status:
        paths = build_report(run, out, n_resamples=resamples, alpha=alpha,
                             progress=lambda i, n, name: status.update(f"notebook {min(i + 1, n)}/{n}: {name}"))
    _print_json(paths)
    err.print(f"[green]report[/] {paths['main']}")


@audit_app.command(
    "gate",
    epilog="Example: skyseal audit gate  (exit status 3 when a descriptor alone turns an allowed prompt into a refusal, 1 on an error)",
)
def gate_cmd(
    ctx: typer.Context,
    suites: Annotated[Optional[list[str]], typer.Argument(help="Suite names or YAML files (default: every bundled suite).")] = None,
) -> None:
    """Counterfactual gate for the configured prompt filter: list every prompt it refuses only because a descriptor was added."""
    from audits.counterfactual_gate import run_gate
    from audits.suites import load_suite, suite_names

    from .components import build_prompt_filter

    try:
        loaded = [load_suite(s) for s in (suites or suite_names())]
    except FileNotFoundError as exc:
        _fail(str(exc))
    prompt_filter = build_prompt_filter(_settings(ctx))
    with err.status("checking the suites through the prompt filter…"):
        results = run_gate(loaded, lambda prompts: [d.action == "allow" for d in prompt_filter.check_batch(prompts)])
    _print_json({
        "policy_version": prompt_filter.policy.version,
        "passed": all(r.passed for r in results),
        "suites": [{"suite": r.suite, "prompts": r.prompts, "refused": r.refused,
                    "identity_refusals": [{"prompt": f.prompt, "unmarked": f.unmarked, "group": f.group} for f in r.identity_refusals],
                    "leniency": len(r.flips) - len(r.identity_refusals)} for r in results],
    })
    if not all(r.passed for r in results):
        err.print("[red]gate failed:[/] a descriptor alone turned an allowed prompt into a refusal (listed above)")
        raise typer.Exit(GATE_FAILED)
    err.print("[green]gate passed[/]: no prompt refused only for naming who it is about")
