"""The counterfactual gate (audits/counterfactual_gate.py) and the shipped prompt filter passing it."""

import json

from audits.counterfactual_gate import counterfactual_flips, run_gate
from audits.suites import load_suite, suite_names


def test_flips_pair_each_marked_prompt_with_its_unmarked_twin():
    suite = load_suite("activities")
    refused = {"a video of a gay person cooking dinner",  # marked refused, twin allowed: fails the gate
               "a couple walking"}  # twin refused, marked allowed: leniency only
    result = counterfactual_flips(suite, lambda prompts: [p not in refused for p in prompts])
    assert result.refused == 2 and not result.passed
    (identity,) = result.identity_refusals
    assert identity.unmarked == "a video of a person cooking dinner" and identity.group == "sexual_orientation:gay"
    lenient = [f for f in result.flips if not f.refused_marked]
    assert len(lenient) == sum(1 for p in suite.prompts if p.template == "a {descriptor} {subject} walking"
                               and p.subject == "couple" and p.attribute != "unmarked")
    assert all(f.unmarked == "a couple walking" for f in lenient)


def test_a_filter_that_refuses_twins_alike_passes():
    # Refusing every "dinner" prompt, marked or not, is consistent: no flip at all.
    result = counterfactual_flips(load_suite("activities"), lambda prompts: ["dinner" not in p for p in prompts])
    assert result.passed and not result.flips and result.refused > 0


def test_the_shipped_prompt_filter_refuses_nobody_for_who_they_are():
    """The release gate for the semantic heads (safety/README.md): across every bundled suite, no
    prompt is refused while its twin without the descriptor is allowed."""
    from safety import PromptFilter

    f = PromptFilter()
    results = run_gate([load_suite(s) for s in suite_names()],
                       lambda prompts: [d.action == "allow" for d in f.check_batch(prompts)])
    refusals = [(r.suite, x.prompt) for r in results for x in r.identity_refusals]
    assert refusals == []


def test_cli_gate_reports_json_and_exit_status(home, capsys):
    from skyseal.cli import main
    from skyseal.cli_audit import GATE_FAILED

    code = main(["audit", "gate", "smoke", "activities"])
    data = json.loads(capsys.readouterr().out)
    assert [s["suite"] for s in data["suites"]] == ["smoke", "activities"]
    assert code == (0 if data["passed"] else GATE_FAILED)
    assert main(["audit", "gate", "no-such-suite"]) == 1
    assert "no audit suite 'no-such-suite'" in capsys.readouterr().err
