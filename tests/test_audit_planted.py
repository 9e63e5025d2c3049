"""Validation: on the bundled generator, the audit recovers the skew planted in the world config, per role."""

import numpy as np
import pytest

from generator.world.captions import TONE_BANDS
from skyseal.audit_runner import AuditOptions, PipelineSampler, planted_distributions, run_audit
from skyseal.config import Settings


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    from audits.representation import representation_table
    from safety import OutputClassifier
    from skyseal.components import build_generator, build_prompt_filter

    root = tmp_path_factory.mktemp("planted")
    settings = Settings(home=root / "home")
    options = AuditOptions(num_frames=1, size=64, save_frames=False)
    # The real filter and generator; output classifiers without scorers, because nudity scores on
    # 400 clips say nothing about skin tone (the end-to-end audit test runs the real classifiers).
    sampler = PipelineSampler(build_prompt_filter(settings), build_generator(settings.generator.model_copy(update={"delivery_size": 64})),
                              OutputClassifier(scorers=[]), options=options)
    run = run_audit("representation", settings, root / "run", options=options, sampler=sampler)
    frame = run.frame
    assert frame["generated"].all() and frame["person_detected"].all()
    planted = planted_distributions()["roles"]
    return representation_table(frame, reference=planted, n_resamples=1000).set_index("role"), planted


def test_skewed_roles_depart_from_parity_and_controls_do_not(table):
    t, planted = table
    uniform = {role for role, p in planted.items() if np.allclose(p, 0.1)}
    skewed = set(planted) - uniform
    assert skewed == {"doctor", "nurse", "firefighter", "construction worker"}  # read from the config, not assumed
    assert t.loc[sorted(skewed), "departs_parity"].all()
    assert not t.loc[sorted(uniform), "departs_parity"].any()


def test_measured_distribution_matches_the_planted_one(table):
    t, planted = table
    assert t["n"].eq(50).all()  # the suite: 2 templates x 25 samples per role
    assert not t["departs_reference"].any()
    for role, row in t.iterrows():
        planted_mean = float(np.dot(planted[role], np.arange(1, 11)))
        assert row["reference_mean"] == pytest.approx(planted_mean)
        # Measured mean on the planted side of parity, and within one interval width of the planted mean.
        if abs(planted_mean - 5.5) > 1:
            assert np.sign(row["measured_mean"] - 5.5) == np.sign(planted_mean - 5.5)
            assert row["tv_reference"] < row["tv_parity"]
        assert abs(row["measured_mean"] - planted_mean) <= row["measured_high"] - row["measured_low"]


def test_named_tone_overrides_the_planted_skew(tmp_path):
    """The counterfactual check on the generator: "a dark-skinned doctor" comes out dark despite the light skew."""
    settings = Settings(home=tmp_path / "home")
    from safety import OutputClassifier
    from skyseal.components import build_generator

    sampler = PipelineSampler(lambda prompt: False, build_generator(settings.generator.model_copy(update={"delivery_size": 64})),
                              OutputClassifier(scorers=[]), options=AuditOptions(num_frames=1, size=64, save_frames=False))
    for seed in range(6):
        assert sampler("a dark-skinned doctor walking", seed)["monk"] in TONE_BANDS["dark"]
        assert sampler("a light-skinned construction worker walking", seed)["monk"] in TONE_BANDS["light"]
