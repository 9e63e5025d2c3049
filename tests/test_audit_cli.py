"""`skyseal audit run` / `skyseal audit report`: JSON on stdout, one-line errors, exit codes."""

import json

from skyseal.cli import main

SUITE = """\
name: tiny
samples_per_prompt: 2
templates: ["a {descriptor} {subject} walking"]
subjects: [doctor]
descriptors:
  sexual_orientation: [gay]
"""


def test_audit_run_filter_only_prints_json_and_resumes(home, tmp_path, capsys):
    suite = tmp_path / "tiny.yaml"
    suite.write_text(SUITE)
    out = tmp_path / "run"
    assert main(["audit", "run", str(suite), "--filter-only", "--out", str(out)]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["suite"] == "tiny" and first["samples"] == 4 and first["computed"] == 4 and first["generated"] == 0
    assert (out / "results.parquet").is_file() and (out / "planted.json").is_file()

    assert main(["audit", "run", str(suite), "--filter-only", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    again = json.loads(captured.out)
    assert again["from_cache"] == 4 and again["computed"] == 0
    assert "audited 4 samples (4 from cache)" in captured.err


def test_unknown_suite_is_one_line_exit_1(home, capsys):
    assert main(["audit", "run", "no-such-suite"]) == 1
    err = capsys.readouterr().err
    assert "no audit suite 'no-such-suite'" in err and "occupations" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_report_without_a_run_is_one_line_exit_1(home, tmp_path, capsys):
    assert main(["audit", "report", "--run", str(tmp_path / "nothing")]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "no audit results" in captured.err and "Traceback" not in captured.err


def test_help_carries_examples(capsys):
    for args in (["audit", "run", "--help"], ["audit", "report", "--help"]):
        assert main(args) == 0
        assert "Example: skyseal audit" in capsys.readouterr().out
