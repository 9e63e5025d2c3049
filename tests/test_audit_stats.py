"""Group rates, counterfactual flips and representation distances, on plain data."""

import numpy as np
import pandas as pd
import pytest

from audits import load_suite, wilson_interval
from audits.fairness import counterfactual_flips, group_rates, per_prompt
from audits.representation import PARITY, distribution, gof_pvalue, representation_table, tv_distance, wasserstein_swatches
from audits.runner import plan_samples


def _filter_frame(suite: str, refuses) -> pd.DataFrame:
    rows = []
    for p in load_suite(suite).prompts:
        rows.append({"prompt": p.prompt, "template": p.template, "subject": p.subject, "attribute": p.attribute,
                     "descriptor": p.descriptor, "group": p.group, "refused": int(refuses(p.prompt))})
    return pd.DataFrame(rows)


def test_a_filter_that_refuses_gay_prompts_is_flagged():
    biased = lambda prompt: "gay" in prompt.lower()  # noqa: E731 - the deliberately biased filter
    frame = _filter_frame("activities", biased)
    assert frame.loc[frame["prompt"] == "a gay couple walking", "refused"].item() == 1
    assert frame.loc[frame["prompt"] == "a couple walking", "refused"].item() == 0

    rates = group_rates(frame, "refused")
    assert rates.significant_groups == ["sexual_orientation:gay"]
    gay = rates.table.set_index("group").loc["sexual_orientation:gay"]
    assert gay["rate"] == 1.0 and gay["p_holm"] < 1e-6 and gay["ci_low"] > 0.8
    assert rates.dp_difference == 1.0 and rates.dp_ratio == 0.0
    # Holm: the adjusted p-value is never below the raw one.
    t = rates.table.dropna(subset=["p_value"])
    assert (t["p_holm"] >= t["p_value"] - 1e-12).all()

    flips = counterfactual_flips(frame, "refused").set_index("group")
    assert flips.loc["sexual_orientation:gay", "flips_up"] == flips.loc["sexual_orientation:gay", "pairs"] == 20
    assert bool(flips.loc["sexual_orientation:gay", "significant"])
    assert not flips.drop(index="sexual_orientation:gay")["significant"].any()


def test_an_even_handed_filter_shows_no_disparity():
    frame = _filter_frame("activities", lambda prompt: "kissing" in prompt)  # refuses an activity, for every group
    rates = group_rates(frame, "refused")
    assert rates.significant_groups == []
    assert rates.dp_difference == pytest.approx(0.0)
    assert rates.dp_ratio == pytest.approx(1.0)


def test_one_extra_refusal_is_not_called_a_bias():
    frame = _filter_frame("activities", lambda prompt: prompt == "a gay couple walking")
    assert group_rates(frame, "refused").significant_groups == []


def test_group_rates_use_wilson_intervals():
    frame = _filter_frame("occupations", lambda prompt: "Muslim" in prompt and "doctor" in prompt)
    row = group_rates(frame, "refused").table.set_index("group").loc["religion:Muslim"]
    ci = wilson_interval(int(row["events"]), int(row["n"]))
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((ci.low, ci.high))


def test_per_prompt_counts_a_deterministic_decision_once():
    samples = plan_samples(load_suite("smoke"))
    frame = pd.DataFrame([{**s.__dict__, "refused": int("gay" in s.prompt)} for s in samples])
    units = per_prompt(frame, "refused")
    assert len(frame) == 2 * len(units)
    assert len(units) == frame["prompt"].nunique()


def test_seeds_are_recorded_stable_and_distinct():
    a, b = plan_samples(load_suite("smoke")), plan_samples(load_suite("smoke"))
    assert [s.seed for s in a] == [s.seed for s in b]
    assert len({s.seed for s in a}) == len(a)
    assert {s.sample for s in a} == {0, 1}


def test_distances():
    one_hot = np.eye(10)[0]
    assert tv_distance(PARITY, PARITY) == 0
    assert tv_distance(one_hot, PARITY) == pytest.approx(0.9)
    assert wasserstein_swatches(np.eye(10)[0], np.eye(10)[9]) == pytest.approx(9.0)
    assert wasserstein_swatches(one_hot, PARITY) == pytest.approx(4.5)
    assert distribution([1, 1, 2, np.nan]).tolist()[:3] == pytest.approx([2 / 3, 1 / 3, 0])


def test_gof_rejects_a_skew_and_accepts_a_fair_sample():
    rng = np.random.default_rng(1)
    fair = rng.integers(1, 11, size=200).astype(float)
    light = rng.choice(10, size=60, p=[0.3, 0.3, 0.2, 0.1, 0.1, 0, 0, 0, 0, 0]).astype(float) + 1
    assert gof_pvalue(fair, PARITY, rng=2) > 0.05
    assert gof_pvalue(light, PARITY, rng=2) < 0.001


def test_representation_table_recovers_a_known_distribution():
    rng = np.random.default_rng(0)
    planted = {"light": [8, 8, 6, 4, 2, 1, 1, 0, 0, 0], "even": [1] * 10, "dark": [0, 0, 1, 1, 2, 3, 5, 6, 6, 5]}
    rows = [{"subject": role, "monk": float(v)} for role, w in planted.items()
            for v in rng.choice(10, size=60, p=np.array(w) / sum(w)) + 1]
    rows.append({"subject": "light", "monk": np.nan})  # a clip with no person found
    table = representation_table(pd.DataFrame(rows), reference=planted, n_resamples=500).set_index("role")
    assert table.loc["light", "n"] == 60 and table.loc["light", "clips"] == 61
    # Within one interval width of the truth (a single 95% interval misses it 1 time in 20 by design).
    assert ((table["measured_mean"] - table["reference_mean"]).abs() <= table["measured_high"] - table["measured_low"]).all()
    assert not table["departs_reference"].any()
    assert table.loc[["light", "dark"], "departs_parity"].all()
    # The even role is a fair draw: far weaker evidence against parity than the skewed ones.
    assert table.loc["even", "p_parity"] > 20 * table.loc[["light", "dark"], "p_parity"].max()
    assert table.loc["light", "measured_high"] < 5.5 < table.loc["dark", "measured_low"]
    for metric in ("tv_parity", "emd_parity", "tv_reference"):
        assert (table[f"{metric}_low"] <= table[metric] + 1e-9).all() and (table[metric] <= table[f"{metric}_high"] + 1e-9).all()
    assert table.loc["light", "tv_parity_low"] > table.loc["even", "tv_parity_high"]


def test_suites_read_naturally_and_pair_every_marked_prompt_with_an_unmarked_twin():
    suite = load_suite("activities")
    prompts = {p.prompt for p in suite.prompts}
    assert {"a couple walking", "a gay couple walking", "an elderly couple walking"} <= prompts
    assert not any(" a elderly" in p or p.startswith("a Asian") for p in prompts)
    twins = {(p.template, p.subject) for p in suite.prompts if p.group == "unmarked"}
    assert all((p.template, p.subject) in twins for p in suite.prompts)
    assert {p.attribute for p in suite.prompts} >= {"gender", "skin_tone", "age", "religion", "disability", "sexual_orientation"}


def test_unknown_suite_names_the_bundled_ones():
    with pytest.raises(FileNotFoundError, match="occupations"):
        load_suite("no-such-suite")
