"""Buried copies of training prompts (safety/models/context_copies.py)."""

from safety.adversarial import PADDING
from safety.models.context_copies import SCENES, STYLES, buried_copy


def test_buried_copy_keeps_the_prompt_between_a_scene_and_a_style():
    text = "a man kicking a dog in the street."
    copy = buried_copy(text)
    scene, rest = copy.split(", ", 1)
    assert scene in SCENES
    assert rest.startswith("a man kicking a dog in the street, ")  # the full stop goes, the words stay
    assert rest.rsplit(", ", 1)[1] in STYLES
    assert buried_copy(text) == copy  # seeded by the prompt
    assert len({buried_copy(f"prompt number {i}") for i in range(40)}) > 20


def test_the_clauses_share_nothing_with_the_dilution_attack_s_padding():
    # The evaluation's diluted copy must measure padding the heads never saw in training.
    padding = " ".join(" ".join(pair) for pair in PADDING).lower()
    for clause in SCENES + STYLES:
        assert clause.lower() not in padding


def test_training_examples_add_one_buried_copy_per_prompt_with_its_label():
    from safety.models.train_semantic import training_examples
    from safety.normalize import normalize

    plain = training_examples(external=False, counterfactual=False, buried=False)
    texts, labels, groups, original = training_examples(external=False, counterfactual=False, buried=True)
    assert sum(original) == sum(plain[3])
    scenes = tuple(normalize(s) + " " for s in SCENES)  # training texts are normalised: no commas
    buried = [(t, label, g) for t, label, g, o in zip(texts, labels, groups, original) if not o and t.startswith(scenes)]
    assert len(buried) == sum(plain[3])  # one per project prompt, every class
    label_of = dict(zip(plain[2], plain[1]))
    assert all(label == label_of[g] for _, label, g in buried)
