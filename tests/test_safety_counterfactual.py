"""Counterfactual copies of training prompts (safety/models/counterfactual.py)."""

import re

import pytest

from safety.models.counterfactual import (DESCRIPTORS, HELD_OUT_DESCRIPTORS, add_frame, counterfactual_copies,
                                          insert_identity, swap_identity)


def test_swap_replaces_every_descriptor_and_keeps_the_rest():
    text = "a gay man and a gay woman holding hands in a park"
    copies = swap_identity(text, copies=3)
    assert len(copies) == 3 and len(set(copies)) == 3
    for c in copies:
        assert "gay" not in c.split()
        assert c.endswith("holding hands in a park")
        # The same new descriptor in both places, with the article it needs.
        new = [d for d in DESCRIPTORS if re.search(rf"\b{re.escape(d)} man\b", c)]
        assert len(new) == 1 and f"{new[0]} woman" in c
        article = "an" if new[0][0].lower() in "aeiou" else "a"
        assert c.startswith(f"{article} {new[0]} man")


def test_swap_is_seeded_by_the_prompt_and_skips_prompts_without_descriptors():
    assert swap_identity("a Muslim family at dinner") == swap_identity("a Muslim family at dinner")
    assert swap_identity("a chef cutting vegetables with a knife") == []
    # "South Asian" is one descriptor, not "Asian" with a stray word before it.
    assert all("South" not in c for c in swap_identity("a South Asian wedding party dancing"))


def test_insert_puts_a_descriptor_before_the_first_person_noun():
    (out,) = insert_identity("A woman jogging in the park while a man watches")
    assert out.endswith("woman jogging in the park while a man watches")
    descriptor = out.split()[1]
    assert descriptor in {d.split()[0] for d in DESCRIPTORS}
    assert out.split()[0] == ("An" if descriptor[0].lower() in "aeiou" else "A")
    assert insert_identity("a Jewish couple cooking") == []  # already names one
    assert insert_identity("a cat asleep on a windowsill") == []  # nobody to describe
    three = insert_identity("a nurse reading in the break room", copies=3)
    assert len(three) == 3 and len({c.split()[1] for c in three}) == 3  # three different descriptors
    assert all(c.endswith(" nurse reading in the break room") for c in three)


def test_frame_opens_unframed_prompts_only():
    framed = add_frame("A chef cutting vegetables")
    assert framed is not None and framed.endswith(" a chef cutting vegetables") and framed != "a chef cutting vegetables"
    for text in ("a video of a dog", "footage of a storm", "make a clip of rain", "Generate a sunset"):
        assert add_frame(text) is None


@pytest.mark.parametrize("text", ["a gay couple walking on a beach", "a man kicking a dog in the street",
                                  "a Sikh teacher reading to children"])
def test_copies_never_use_the_audit_s_held_out_descriptors(text):
    for copy in counterfactual_copies(text):
        assert copy != text
        for held_out in HELD_OUT_DESCRIPTORS:
            # A prompt that names one keeps it (nothing to swap it for): only no new ones appear.
            assert copy.count(held_out) <= text.count(held_out)


def test_training_examples_keep_labels_and_groups_for_the_copies():
    from safety.models.train_semantic import training_examples

    plain = training_examples(external=False, counterfactual=False)
    texts, labels, groups, original = training_examples(external=False)
    assert sum(original) == sum(plain[3])  # copies add rows, never originals
    assert len(texts) > len(plain[0])
    label_of_group: dict[str, set[str]] = {}
    for label, group in zip(labels, groups):
        label_of_group.setdefault(group, set()).add(label)
    assert all(len(v) == 1 for v in label_of_group.values())
    assert any(t.startswith("footage of") for t, o in zip(texts, original) if not o)


def _hate_on_an_identity_axis():
    """Embeddings, the identity axis and labels where "hate" rides on that axis alone; every other
    class appears too, as in real training data."""
    import numpy as np

    from safety.models.train_semantic import CLASSES

    rng = np.random.default_rng(0)
    x = rng.normal(size=(240, 16))
    identity = np.zeros(16)
    identity[3] = 1.0
    others = [c for c in CLASSES if c != "hate"]
    labels = ["hate" if row[3] > 0.8 else others[i % len(others)] for i, row in enumerate(x)]
    return x, identity, labels


def test_heads_fitted_with_a_nullspace_cannot_read_those_directions():
    import numpy as np

    from safety.models.train_semantic import CLASSES, fit_heads

    x, identity, labels = _hate_on_an_identity_axis()
    plain = fit_heads(x, labels, hidden_units=0)
    blind = fit_heads(x, labels, nullspace=identity[None, :], hidden_units=0)
    assert abs(plain.coef[CLASSES.index("hate"), 3]) > 1.0  # without it the head reads the axis
    assert np.allclose(blind.coef @ identity, 0.0, atol=1e-6)
    moved = x + 5.0 * identity  # naming someone moves the embedding along the direction: no score changes
    assert np.allclose(blind.predict_proba(x), blind.predict_proba(moved), atol=1e-6)
    assert not np.allclose(plain.predict_proba(x), plain.predict_proba(moved), atol=1e-3)


def test_a_hidden_layer_head_fitted_with_a_nullspace_cannot_read_those_directions():
    import numpy as np

    from safety.models.train_semantic import CLASSES, fit_heads

    x, identity, labels = _hate_on_an_identity_axis()
    plain = fit_heads(x, labels, hidden_units=32)
    blind = fit_heads(x, labels, nullspace=identity[None, :], hidden_units=32)
    assert blind.hidden is not None and blind.hidden[0].shape == (16, 32) and blind.coef.shape == (len(CLASSES), 32)
    assert np.allclose(identity @ blind.hidden[0], 0.0, atol=1e-6)  # the ReLU layer's input weights lose the direction
    moved = x + 5.0 * identity
    assert np.allclose(blind.predict_proba(x), blind.predict_proba(moved), atol=1e-6)
    assert not np.allclose(plain.predict_proba(x), plain.predict_proba(moved), atol=1e-3)


def test_out_of_fold_heads_are_blind_to_directions_found_in_their_own_training_rows_only():
    """train_semantic --threshold: the identity directions a fold's heads may not read come from that
    fold's training rows, so a held-out prompt's embedding never shapes the heads that score it."""
    import numpy as np

    from safety.models.train_semantic import fold_heads, fold_splits, identity_subspace, training_examples

    def projector(d):
        return d.T @ d

    texts, labels, groups, _ = training_examples(external=False)
    emb = np.random.default_rng(0).normal(size=(len(texts), 8))
    folds = fold_heads(emb, texts, labels, groups, 4.0, folds=3, lexical_weight=0, identity_directions=2, hidden_units=0)
    splits = fold_splits(texts, labels, groups, 3)
    everyone = identity_subspace(texts, emb, 2)
    for fold, (train, test) in zip(folds, splits):
        own = identity_subspace(texts, emb, 2, rows=train)
        assert np.allclose(fold.heads.coef @ own.T, 0.0, atol=1e-6)
        assert not np.allclose(fold.heads.coef @ everyone.T, 0.0, atol=1e-3)
        moved = emb.copy()
        moved[test] = np.random.default_rng(1).normal(size=(len(test), 8))  # the held-out rows change...
        assert np.allclose(projector(identity_subspace(texts, moved, 2, rows=train)), projector(own))  # ...their directions do not
        assert not np.allclose(projector(identity_subspace(texts, moved, 2)), projector(everyone), atol=1e-3)
