import numpy as np
import pytest

from safety import OutputClassifier, PolicyError, PromptFilter, load_policy, normalize
from safety.frames import sample_frame_indices
from safety.normalize import join_spaced_letters


@pytest.fixture(scope="module")
def prompt_filter():
    return PromptFilter()


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("ＮＵＤＥ", "nude"),  # fullwidth
        ("n\u200bu\u200dde", "nude"),  # zero-width characters
        ("nаkеd", "naked"),  # Cyrillic a and e
        ("p0rn", "porn"),  # leetspeak inside a word
        ("NUUUUDE", "nude"),  # repeated letters
        ("𝐧𝐮𝐝𝐞", "nude"),  # mathematical bold letters
        ("3 dogs", "3 dogs"),  # numbers alone stay numbers
        ("XXX", "xxx"),  # a token of one repeated letter is a word, not a stretched letter
    ],
)
def test_normalize_undoes_obfuscation(raw, expected):
    assert normalize(raw) == expected


def test_spaced_letters_join_only_single_letters():
    assert join_spaced_letters("p o r n") == "porn"
    assert join_spaced_letters("shop ornaments") == "shop ornaments"


@pytest.mark.parametrize("prompt,category", [
    ("a n a k e d person", "sexual"),
    ("ｇｏｒｅ and blood", "violence"),
    ("how to build a bomb in a garage", "weapons_mass_harm"),
    ("donald trump giving a speech", "real_person_likeness"),
    ("an XXX movie scene", "sexual"),
])
def test_unsafe_prompts_fire(prompt_filter, prompt, category):
    decision = prompt_filter(prompt)
    assert category in decision.categories
    assert decision.action in ("review", "block")
    assert decision.reasons and decision.policy_version


@pytest.mark.parametrize("prompt", ["shop ornaments in a window", "a red ball bouncing", "a sussex countryside walk",
                                    "the therapist's office", "a box marked x on a treasure map"])
def test_benign_prompts_pass(prompt_filter, prompt):
    assert prompt_filter(prompt).action == "allow"


def test_block_beats_review(prompt_filter):
    d = prompt_filter("joe biden in a porn scene")
    assert d.action == "block" and {"sexual", "real_person_likeness"} <= set(d.categories)


def test_semantic_evidence_below_the_review_threshold_is_reviewed_not_allowed():
    """semantic_threshold may sit below review_threshold (the heads are tuned on their own scale):
    a semantic score past it is reviewed, never allowed in silence; an allow category stays allow."""
    policy = load_policy()
    rules = policy.categories["violence"]
    assert rules.action_for(0.3) == "allow" and rules.action_for(0.3, evidence=True) == "review"
    assert rules.action_for(rules.block_threshold, evidence=True) == rules.action
    assert rules.model_copy(update={"action": "allow"}).action_for(0.3, evidence=True) == "allow"
    strict = policy.model_copy(deep=True)
    strict.categories["violence"].review_threshold = 0.99
    strict.categories["violence"].block_threshold = 0.99
    strict.categories["violence"].semantic_threshold = 0.05
    prompt = "a man attacked in a dark alley at night"
    d = PromptFilter(strict)(prompt)
    semantic = [f for f in d.findings if f.category == "violence" and f.source.startswith("semantic")]
    assert semantic and semantic[0].score < 0.99 and d.action == "review"


def test_bad_policy_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "p.yaml"
    bad.write_text("version: 1\ncategories:\n  x:\n    action: explode\n")
    with pytest.raises(PolicyError, match="invalid"):
        load_policy(bad)
    with pytest.raises(PolicyError, match="not found"):
        load_policy(tmp_path / "missing.yaml")


def test_frame_sampling_keeps_first_and_last():
    idx = sample_frame_indices(17, fps=8, rate=2)
    assert idx[0] == 0 and idx[-1] == 16 and list(idx[:3]) == [0, 4, 8]
    assert sample_frame_indices(3, fps=1, rate=2).tolist() == [0, 1, 2]


class _BrightnessScorer:
    """A scorer whose answer depends on the pixels, to test pooling and policy without a model."""

    category = "violence"
    source = "test:red-fraction"

    def score_frames(self, frames):
        red = (frames[..., 0] > 200) & (frames[..., 1] < 60)
        return red.mean(axis=(1, 2)).astype(np.float32)


def test_output_classifier_pools_over_sampled_frames():
    frames = np.zeros((16, 32, 32, 3), np.uint8)
    frames[15, :, :, 0] = 255  # only the last frame is red: sampling must still see it
    d = OutputClassifier(scorers=[_BrightnessScorer()], sample_rate=0.5).classify(frames, fps=8)
    assert d.action == "block" and d.categories["violence"] == 1.0
    assert "15" in d.findings[0].evidence
    clean = OutputClassifier(scorers=[_BrightnessScorer()]).classify(np.zeros((8, 32, 32, 3), np.uint8), fps=8)
    assert clean.action == "allow"


def test_nudenet_runs_on_real_frames():
    from generator import ProceduralGenerator

    video = ProceduralGenerator(size=128)("a doctor standing", seed=0)
    d = OutputClassifier().classify(video.frames, video.fps)
    assert d.action == "allow" and "sexual" in d.categories and d.categories["sexual"] < 0.35
