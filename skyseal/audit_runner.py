"""Bias audits through the real road: the composition root's side of ``audits``.

``audits`` measures plain data and never imports a stage; this module wires
the configured prompt filter, generator and output classifiers into a sampler
``(prompt, seed) -> dict`` for ``audits.runner``, reads the skew planted in the
procedural world's config (``generator/world/demographics.yaml``) as the
reference distribution, and drives the report notebooks.

For speed an audit skips watermarking, signing and the ledger: none of them
changes what the filter decides, what the generator draws or what the
classifiers flag.  Clips are rendered short and small by default (4 frames,
128 px), which the skin-tone measurement handles (it is validated from 64 px).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from audits.runner import Progress, RunStats, plan_samples, run_samples, write_frame_atomic
from audits.skin_tone import INSTRUMENT_VERSION, measure_skin_tone
from audits.suites import load_suite

from .components import build_generator, build_output_classifier, build_prompt_filter
from .config import Settings

RESULTS_FILE = "results.parquet"
PLANTED_FILE = "planted.json"
RUN_FILE = "run.json"


@dataclass(frozen=True)
class AuditOptions:
    num_frames: int = 4
    size: int = 128
    save_frames: bool = True  # a contact sheet (first, middle, last frame) per clip, for people to look at
    generate: bool = True  # False: a filter-only audit, no clip is generated or classified
    clip_model: str | None = None  # open_clip architecture, e.g. "ViT-B-32"; with clip_pretrained, CLIP zero-shot attributes
    clip_pretrained: str | None = None  # a local checkpoint file (never downloaded)


class PipelineSampler:
    """One audit sample: filter -> generator -> output classifiers -> measured skin tone."""

    def __init__(self, prompt_filter, generator, output_classifier, *, options: AuditOptions,
                 files_dir: Path | None = None, decisions: dict | None = None, clip=None) -> None:
        self.prompt_filter = prompt_filter
        self.clip = clip if clip is not None else _build_clip(options)
        self.generator = generator
        self.output_classifier = output_classifier
        self.options = options
        self.files_dir = files_dir
        self.decisions: dict = dict(decisions or {})

    def prefilter(self, prompts) -> dict:
        """Decide every distinct prompt once, batched: the filter reads text alone, so the samples
        of one prompt share its decision, and a batch lets embedding layers encode in one pass."""
        todo = sorted({p for p in prompts} - set(self.decisions))
        if todo:
            batch = getattr(self.prompt_filter, "check_batch", None)
            if batch is not None:
                found = batch(todo)
            elif hasattr(self.prompt_filter, "check"):
                found = [self.prompt_filter.check(p) for p in todo]
            else:
                found = [_plain_decision(self.prompt_filter(p)) for p in todo]
            self.decisions.update(zip(todo, found))
        return self.decisions

    @classmethod
    def from_settings(cls, settings: Settings, *, options: AuditOptions = AuditOptions(),
                      files_dir: Path | None = None) -> "PipelineSampler":
        gen = settings.generator.model_copy(update={"delivery_size": options.size, "num_frames": options.num_frames})
        return cls(build_prompt_filter(settings), build_generator(gen), build_output_classifier(settings),
                   options=options, files_dir=files_dir)

    @classmethod
    def from_pipeline(cls, pipeline, *, options: AuditOptions = AuditOptions(), files_dir: Path | None = None) -> "PipelineSampler":
        """Audit the exact components a Pipeline holds (frames come at the pipeline generator's own size)."""
        return cls(pipeline.prompt_filter, pipeline.generator, pipeline.output_classifier, options=options,
                   files_dir=files_dir)

    @property
    def fingerprint(self) -> str:
        """What the cached results depend on: a change here re-runs every sample."""
        parts = [getattr(self.generator, "model_version", type(self.generator).__name__),
                 getattr(getattr(self.prompt_filter, "policy", None), "version", "?"),
                 ",".join(type(layer).__name__ for layer in getattr(self.prompt_filter, "layers", [])),
                 ",".join(type(s).__name__ for s in getattr(self.output_classifier, "scorers", [])),
                 str(self.options.num_frames), str(self.options.size), str(self.options.generate), INSTRUMENT_VERSION,
                 self.clip.tag if self.clip is not None else "no-clip"]
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]

    def __call__(self, prompt: str, seed: int) -> dict:
        from generator import upscale

        decision = self.decisions.get(prompt) or self.prefilter([prompt])[prompt]
        row: dict = {
            "prompt_action": decision.action,
            "prompt_refused": decision.action == "block",
            "prompt_review": decision.action == "review",
            "prompt_flagged": decision.action != "allow",
            "prompt_categories": json.dumps(decision.categories, sort_keys=True),
            "prompt_reasons": "; ".join(decision.reasons),
            "policy_version": decision.policy_version,
            "generated": False,
        }
        if decision.blocked or not self.options.generate:
            return row  # a refused prompt never reaches the generator, as on the real road
        video = self.generator(prompt, seed=seed, num_frames=self.options.num_frames)
        frames = upscale(video.frames, self.options.size)
        out = self.output_classifier.classify(frames, video.fps, prompt_decision=decision)  # as on the real road
        tone = measure_skin_tone(frames)
        person = (video.details.get("scene") or {}).get("person") or {}
        row.update(
            generated=True,
            model_version=video.model_version,
            output_action=out.action,
            output_flagged=out.action != "allow",
            output_review=out.action == "review",
            output_blocked=out.action == "block",
            output_scores=json.dumps(out.categories, sort_keys=True),
            monk=tone.monk, ita=tone.ita, lab_L=tone.lightness, lab_b=tone.yellowness,
            skin_pixels=tone.skin_pixels, person_detected=tone.monk is not None,
            # What the procedural renderer actually drew: ground truth for checking the instrument,
            # never used by the measurement.  Absent for generators that do not report it.
            drawn_monk=person.get("skin_tone"),
            file=self._save_contact_sheet(frames, prompt, seed),
        )
        if self.clip is not None:
            row.update(self.clip(frames))
        return row

    def _save_contact_sheet(self, frames: np.ndarray, prompt: str, seed: int) -> str | None:
        if not self.options.save_frames or self.files_dir is None:
            return None
        from PIL import Image

        picks = sorted({0, len(frames) // 2, len(frames) - 1})
        sheet = np.concatenate([frames[i] for i in picks], axis=1)  # RGB, side by side
        name = hashlib.sha256(f"{prompt}\x00{seed}".encode()).hexdigest()[:20] + ".png"
        path = self.files_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{name}.", suffix=".tmp")
        os.close(fd)
        Image.fromarray(sheet, mode="RGB").save(tmp, format="PNG")
        os.replace(tmp, path)
        return str(path)


@dataclass(frozen=True)
class _PlainDecision:
    """What a plain filter callable said, shaped like safety's Decision for the audit's columns."""

    action: str
    categories: dict = field(default_factory=dict)
    reasons: tuple = ()
    policy_version: str = "callable"

    @property
    def blocked(self) -> bool:
        return self.action == "block"


def _plain_decision(value) -> "_PlainDecision":
    """A plain filter callable may answer a Decision, an action ("allow"/"review"/"block") or a bool (True = block)."""
    if hasattr(value, "action"):
        return value
    if isinstance(value, bool):
        return _PlainDecision("block" if value else "allow")
    if value in ("allow", "review", "block"):
        return _PlainDecision(value)
    raise ValueError(f"a filter callable must return a Decision, an action or a bool, not {value!r}")


def _build_clip(options: AuditOptions):
    """CLIP zero-shot attributes when weights are configured; None (skipped) when they are not."""
    if not (options.clip_model and options.clip_pretrained):
        return None
    from audits.clip_attributes import ClipZeroShot

    return ClipZeroShot(options.clip_model, options.clip_pretrained)


def _make_sampler(settings: Settings, options: AuditOptions, files_dir: Path | None,
                  decisions: dict | None = None) -> PipelineSampler:
    sampler = PipelineSampler.from_settings(settings, options=options, files_dir=files_dir)
    sampler.decisions.update(decisions or {})
    return sampler


def planted_distributions() -> dict:
    """The skin-tone skew planted per role in the procedural world's config, as plain data."""
    from generator.world.sampling import DEMOGRAPHICS_FILE, load_demographics

    table = load_demographics(str(DEMOGRAPHICS_FILE))
    return {"source": str(DEMOGRAPHICS_FILE), "roles": {role: [float(x) for x in p] for role, p in table.items()}}


@dataclass
class AuditRun:
    run_dir: Path
    frame: pd.DataFrame
    stats: RunStats
    suite: str
    fingerprint: str
    meta: dict = field(default_factory=dict)

    @property
    def results_path(self) -> Path:
        return self.run_dir / RESULTS_FILE

    def summary(self) -> dict:
        f = self.frame
        gen = f[f["generated"]] if "generated" in f else f.iloc[0:0]
        return {
            "suite": self.suite, "run_dir": str(self.run_dir), "results": str(self.results_path),
            "samples": self.stats.total, "from_cache": self.stats.cached, "computed": self.stats.computed,
            "prompts": int(f["prompt"].nunique()), "refused": int(f["prompt_refused"].sum()),
            "generated": int(len(gen)),
            "people_measured": int(gen["monk"].notna().sum()) if "monk" in gen else 0,
            "fingerprint": self.fingerprint,
        }


def run_audit(
    suite: str | Path,
    settings: Settings,
    run_dir: str | Path,
    *,
    samples_per_prompt: int | None = None,
    options: AuditOptions = AuditOptions(),
    use_ray: bool = False,
    num_cpus: int = 2,
    progress: Progress | None = None,
    sampler: PipelineSampler | None = None,
) -> AuditRun:
    """Run ``suite`` through the configured road into ``run_dir`` (resumable), write the tidy results."""
    run_dir = Path(run_dir)
    loaded = load_suite(suite)
    files_dir = run_dir / "clips"
    if sampler is None:
        sampler = _make_sampler(settings, options, files_dir)
    elif use_ray:
        raise ValueError("a ready-made sampler runs in this process; leave it out to run on Ray")
    fingerprint = sampler.fingerprint
    samples = plan_samples(loaded, samples_per_prompt)
    sampler.prefilter(s.prompt for s in samples)
    factory = (functools.partial(_make_sampler, settings, options, files_dir, sampler.decisions) if use_ray
               else (lambda: sampler))
    frame, stats = run_samples(samples, factory, run_dir / "cache", fingerprint=fingerprint, use_ray=use_ray,
                               num_cpus=num_cpus, progress=progress)
    frame.insert(0, "suite", loaded.name)
    write_frame_atomic(frame, run_dir / RESULTS_FILE)
    _write_text_atomic(run_dir / PLANTED_FILE, json.dumps(planted_distributions(), indent=2))
    meta = {"suite": loaded.name, "fingerprint": fingerprint, "finished_at": dt.datetime.now(dt.timezone.utc).isoformat(),
            "options": asdict(options), "samples": stats.total, "ray": use_ray}
    _write_text_atomic(run_dir / RUN_FILE, json.dumps(meta, indent=2))
    return AuditRun(run_dir, frame, stats, loaded.name, fingerprint, meta)


def _write_text_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)




def build_report(run_dir: str | Path, report_dir: str | Path | None = None, *, n_resamples: int = 2000,
                 alpha: float = 0.05, progress=None) -> dict:
    """Execute the three audit notebooks on a finished run and export each as one self-contained HTML file."""
    from audits.notebooks import execute_notebook, export_html

    run_dir = Path(run_dir)
    results = run_dir / RESULTS_FILE
    if not results.is_file():
        raise FileNotFoundError(f"no audit results at {results}: run `skyseal audit run SUITE --out {run_dir}` first")
    report_dir = Path(report_dir) if report_dir else run_dir / "report"
    planted = run_dir / PLANTED_FILE
    steps = [
        ("prompt_filter", {"results_path": str(results.resolve()), "alpha": alpha}),
        ("representation", {"results_path": str(results.resolve()), "reference_path": str(planted.resolve()) if planted.is_file() else "",
                            "n_resamples": n_resamples, "alpha": alpha}),
        ("summary", {"report_dir": str(report_dir.resolve())}),
    ]
    html = {}
    for i, (name, params) in enumerate(steps):
        if progress:
            progress(i, len(steps), name)
        executed = execute_notebook(name, params, report_dir)
        html[name] = str(export_html(executed))
    if progress:
        progress(len(steps), len(steps), "done")
    return {"report_dir": str(report_dir), "html": html, "main": html["summary"],
            "figures": sorted(str(p) for p in report_dir.glob("*.png")),
            "tables": sorted(str(p) for p in report_dir.glob("*.csv"))}


__all__ = ["AuditOptions", "AuditRun", "PipelineSampler", "build_report", "planted_distributions", "run_audit"]
