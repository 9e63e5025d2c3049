"""The audit end to end: a suite through the real road, cached, into a tidy frame, the notebooks and the CLI."""

import json
import re
import sys
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from skyseal.audit_runner import AuditOptions, PipelineSampler, build_report, planted_distributions, run_audit
from skyseal.config import Settings

SUITE = """\
name: e2e
samples_per_prompt: 1
base_seed: 7
templates:
  - "a {descriptor} {subject} walking"
  - "a {descriptor} {subject} standing"
  - "a photo of a {descriptor} {subject} walking right"
subjects: [doctor, nurse, teacher, chef, farmer, construction worker]
descriptors:
  sexual_orientation: [gay, straight]
  religion: [Muslim]
"""
OPTIONS = AuditOptions(num_frames=2, size=96)


def refuses_gay(prompt: str) -> bool:
    """A deliberately biased filter: a plain callable that blocks any prompt saying "gay"."""
    return "gay" in prompt.lower()


def _biased_sampler(settings: Settings, files_dir: Path) -> PipelineSampler:
    from skyseal.components import build_generator, build_output_classifier

    gen = settings.generator.model_copy(update={"delivery_size": OPTIONS.size})
    return PipelineSampler(refuses_gay, build_generator(gen), build_output_classifier(settings), options=OPTIONS,
                           files_dir=files_dir)


@pytest.fixture(scope="module")
def biased_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("audit")
    suite = root / "e2e.yaml"
    suite.write_text(SUITE)
    settings = Settings(home=root / "home")
    run_dir = root / "run"
    run = run_audit(suite, settings, run_dir, options=OPTIONS, sampler=_biased_sampler(settings, run_dir / "clips"))
    return suite, settings, run


def test_tidy_frame_has_one_row_per_sample_with_decisions_scores_and_measures(biased_run):
    _, _, run = biased_run
    f = run.frame
    assert len(f) == 72 == f["prompt"].nunique()
    for col in ("prompt", "template", "descriptor", "group", "seed", "prompt_action", "output_action", "output_scores",
                "monk", "ita", "file"):
        assert col in f.columns
    assert pd.read_parquet(run.results_path).shape == f.shape
    gay = f["group"] == "sexual_orientation:gay"
    assert f.loc[gay, "prompt_refused"].all() and not f.loc[~gay, "prompt_refused"].any()
    # A refused prompt never reaches the generator, as on the real road.
    assert not f.loc[gay, "generated"].any() and f.loc[~gay, "generated"].all()
    assert f.loc[~gay, "output_action"].isin(["allow", "review", "block"]).all()


def test_measured_skin_tone_is_what_the_generator_drew(biased_run):
    f = biased_run[2].frame
    people = f[f["generated"]]
    assert people["person_detected"].all()
    assert (people["monk"] == people["drawn_monk"]).all()


def test_contact_sheets_are_written_in_rgb(biased_run):
    from PIL import Image

    row = biased_run[2].frame.dropna(subset=["file"]).iloc[0]
    image = np.asarray(Image.open(row["file"]))
    panels = len({0, OPTIONS.num_frames // 2, OPTIONS.num_frames - 1})  # first, middle, last
    assert image.shape == (OPTIONS.size, panels * OPTIONS.size, 3)
    from audits.skin_tone import measure_skin_tone

    assert measure_skin_tone(image[:, : OPTIONS.size][None]).monk == row["monk"]


def test_rerun_skips_finished_samples_and_changes_nothing(biased_run):
    suite, settings, run = biased_run
    again = run_audit(suite, settings, run.run_dir, options=OPTIONS, sampler=_biased_sampler(settings, run.run_dir / "clips"))
    assert again.stats.cached == 72 and again.stats.computed == 0
    pd.testing.assert_frame_equal(again.frame, run.frame)


def test_a_torn_cache_record_is_redone(biased_run):
    suite, settings, run = biased_run
    victim = sorted((run.run_dir / "cache").glob("*.json"))[0]
    victim.write_text('{"prompt": "a do')  # a write cut short
    again = run_audit(suite, settings, run.run_dir, options=OPTIONS, sampler=_biased_sampler(settings, run.run_dir / "clips"))
    assert again.stats.computed == 1
    assert json.loads(victim.read_text())["prompt"]


def test_changing_what_results_depend_on_changes_the_cache_key(biased_run):
    _, settings, run = biased_run
    a = _biased_sampler(settings, run.run_dir)
    b = PipelineSampler(a.prompt_filter, a.generator, a.output_classifier, options=AuditOptions(num_frames=3, size=96))
    assert a.fingerprint != b.fingerprint


def test_planted_column_comes_from_the_world_config():
    import yaml

    from generator.world.sampling import DEMOGRAPHICS_FILE

    raw = yaml.safe_load(DEMOGRAPHICS_FILE.read_text())["roles"]
    planted = planted_distributions()
    assert planted["source"] == str(DEMOGRAPHICS_FILE)
    for role, weights in raw.items():
        assert np.allclose(planted["roles"][role], np.array(weights) / sum(weights))


def test_notebooks_report_the_biased_filter_and_hold_their_figures(biased_run):
    from audits.notebooks import image_outputs

    run = biased_run[2]
    paths = build_report(run.run_dir, n_resamples=300)
    report = Path(paths["report_dir"])

    rates = pd.read_csv(report / "filter_rates.csv")
    refused = rates[rates["outcome"] == "prompt_refused"].set_index("group")
    assert refused.loc["sexual_orientation:gay", "significant"]
    assert refused.loc["sexual_orientation:gay", "rate"] == 1.0
    assert not refused.drop(index="sexual_orientation:gay")["significant"].any()
    summary = json.loads((report / "filter_summary.json").read_text())
    assert summary["prompt_refused"]["significant_groups"] == ["sexual_orientation:gay"]

    rep = pd.read_csv(report / "representation.csv")
    assert set(rep["role"]) == {"doctor", "nurse", "teacher", "chef", "farmer", "construction worker"}
    assert {"reference_mean", "measured_low", "measured_high", "tv_parity", "tv_reference"} <= set(rep.columns)

    expected = {"prompt_filter": ["filter_prompt_refused", "filter_prompt_flagged", "output_flag_rates"],
                "representation": ["mean_tone_by_role", "tone_distribution_by_role", "tone_distance_tv", "tone_distance_emd",
                                   "instrument_confusion"],
                "summary": ["summary"]}
    for name, figures in expected.items():
        for fig in figures:
            assert (report / f"{fig}.png").stat().st_size > 5000, fig
        executed = Path(paths["html"][name]).with_suffix(".ipynb")
        assert image_outputs(executed) == len(figures)
        html = Path(paths["html"][name]).read_text(encoding="utf-8")
        # Self-contained: every figure inline, nothing fetched from elsewhere, no error output.
        assert len(re.findall(r'<img [^>]*src="data:image/png;base64', html)) == len(figures)
        assert not re.findall(r'(?:src|href)="(?:https?:)?//', html)
        assert "Traceback" not in html
    # Papermill injected the run's parameters, and the kernel was this interpreter's.
    nb = nbformat.read(report / "output_representation.ipynb", as_version=4)
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in nb.cells)
    assert json.loads((report / "representation_summary.json").read_text())["python"] == sys.executable
