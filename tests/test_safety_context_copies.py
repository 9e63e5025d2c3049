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


def test_styled_copies_add_framing_words_to_every_prompt_of_every_class_with_its_label():
    # Framing words ("realistic", "meme edit") must carry no label: each project prompt, benign and
    # unsafe alike, gets one copy with one or two of them appended, chosen by the prompt.
    from safety.models.context_copies import STYLE_PHRASES, styled_copy
    from safety.models.train_semantic import training_examples

    text = "a man kicking a dog in the street"
    copy = styled_copy(text)
    assert copy.startswith(text + ", ") and copy == styled_copy(text)
    tail = copy[len(text) + 2:]
    assert any(tail == p or tail.startswith(p + ", ") for p in STYLE_PHRASES)
    assert len({styled_copy(f"prompt number {i}") for i in range(60)}) > 30

    plain = training_examples(external=False, counterfactual=False, styled=False)
    texts, labels, groups, original = training_examples(external=False, counterfactual=False, styled=True)
    assert sum(original) == sum(plain[3])
    originals = {g: t for t, g, o in zip(plain[0], plain[2], plain[3]) if o}
    label_of = dict(zip(plain[2], plain[1]))
    before = set(plain[0])
    added = [(t, label, g) for t, label, g in zip(texts, labels, groups) if t not in before]
    assert len(added) >= 0.95 * len(originals)  # one per prompt (a few coincide with an existing copy)
    assert {label for _, label, _ in added} == set(plain[1])  # every class, benign and unsafe
    for t, label, g in added:
        assert label == label_of[g] and t.startswith(originals[g])
