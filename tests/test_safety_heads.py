"""The semantic heads file: embedding head blended with the TF-IDF head, saved and loaded."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from safety.errors import ClassifierLoadError
from safety.semantic import DEFAULT_HEADS, LexicalHead, SemanticHeads

CLASSES = ["violence", "drugs", "safe"]
TEXTS = ["a man stabbed in an alley", "a gang shooting a rival", "snorting cocaine in a club", "selling heroin on a corner",
         "a chef cutting onions", "kids flying kites", "a dog catching a frisbee", "a barista pouring coffee"]
LABELS = [0, 0, 1, 1, 2, 2, 2, 2]


def tiny_heads(weight: float = 0.5) -> SemanticHeads:
    rng = np.random.default_rng(0)
    lexical = LexicalHead.fit(TEXTS, np.array(LABELS), C=16.0)
    return SemanticHeads(CLASSES, rng.normal(size=(3, 8)), rng.normal(size=3), version="tiny", link="softmax",
                         lexical=lexical, lexical_weight=weight)


def test_lexical_logits_match_sklearns_tfidf_features():
    lexical = tiny_heads().lexical
    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, vocabulary={w: i for i, w in enumerate(lexical.vocabulary)})
    vec.idf_ = lexical.idf
    texts = ["cocaine cocaine in a club", "an unseen sentence entirely", "a gang stabbed a chef"]
    expected = np.asarray(vec.transform(texts) @ lexical.coef.T) + lexical.intercept
    assert np.allclose(lexical.logits(texts), expected, atol=1e-5)
    # Words it has learnt move the right class.
    logits = lexical.logits(["snorting cocaine", "kids flying kites with a dog"])
    assert logits[0].argmax() == 1 and logits[1].argmax() == 2


def test_a_lexical_head_blind_to_words_never_reads_them():
    texts = TEXTS + ["a gang of gay men beating a rival", "a gay couple flying kites"]
    labels = np.array(LABELS + [0, 2])
    seeing = LexicalHead.fit(texts, labels, C=16.0)
    blind = LexicalHead.fit(texts, labels, C=16.0, blind=["gay", "Gays"])
    assert "gay" in seeing.vocabulary and not [g for g in blind.vocabulary if "gay" in g.split()]
    assert not np.allclose(seeing.logits(["a gay man"]), seeing.logits(["a man"]))
    # With the word out of every n-gram, naming it changes nothing, alone or inside a prompt.
    assert np.allclose(blind.logits(["a gay man"]), blind.logits(["a man"]))
    assert np.allclose(blind.logits(["gays selling heroin"]), blind.logits(["selling heroin"]))
    # Rows are normalised over the n-grams it reads, the same way at fit and at inference.
    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, vocabulary={w: i for i, w in enumerate(blind.vocabulary)})
    vec.idf_ = blind.idf
    assert np.allclose(blind.logits(texts), np.asarray(vec.transform(texts) @ blind.coef.T) + blind.intercept, atol=1e-5)


def test_a_norm_floor_reads_a_prompt_with_one_known_word_at_its_own_small_strength(tmp_path):
    plain = LexicalHead.fit(TEXTS, np.array(LABELS), C=16.0)
    floored = LexicalHead.fit(TEXTS, np.array(LABELS), C=16.0, norm_floor_quantile=0.5)
    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, norm=None)
    X = vec.fit_transform(TEXTS)
    lengths = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
    assert floored.norm_floor == pytest.approx(np.quantile(lengths, 0.5), rel=1e-5)
    # Plain L2 scales the lone word "man" up to a whole prompt's length; with the floor its logits stay
    # near the intercept (the prior), and a prompt longer than the floor is read exactly as without it.
    lone = ["a man"]
    assert np.abs(floored.logits(lone) - floored.intercept).sum() < 0.5 * np.abs(plain.logits(lone) - plain.intercept).sum()
    long_text = ["a gang shooting a rival man stabbed in an alley with a knife"]
    x = vec.transform(long_text)
    assert np.linalg.norm(x.toarray()) > floored.norm_floor
    expected = floored.intercept + (x.toarray()[0] / np.linalg.norm(x.toarray()))[[vec.vocabulary_[w] for w in floored.vocabulary]] @ floored.coef.T
    assert np.allclose(floored.logits(long_text)[0], expected, atol=1e-4)
    # The floor travels in the heads file; files without it read as plain L2.
    heads = tiny_heads()
    heads.lexical = floored
    heads.save(tmp_path / "h.npz")
    assert SemanticHeads.load(tmp_path / "h.npz").lexical.norm_floor == pytest.approx(floored.norm_floor)
    tiny_heads().save(tmp_path / "old.npz")
    with np.load(tmp_path / "old.npz") as z:
        assert "lexical_norm_floor" not in z.files
    assert SemanticHeads.load(tmp_path / "old.npz").lexical.norm_floor == 0.0


def test_blend_is_the_weighted_mean_and_needs_the_texts(tmp_path):
    heads = tiny_heads(0.25)
    emb = np.random.default_rng(1).normal(size=(2, 8)).astype(np.float32)
    texts = ["selling heroin", "kids flying kites"]
    alone = SemanticHeads(CLASSES, heads.coef, heads.intercept, link="softmax").predict_proba(emb)
    lexical_only = heads._link(heads.lexical.logits(texts))
    assert np.allclose(heads.predict_proba(emb, texts), 0.75 * alone + 0.25 * lexical_only, atol=1e-6)
    with pytest.raises(ValueError, match="texts"):
        heads.predict_proba(emb)

    path = tmp_path / "heads.npz"
    heads.save(path)
    again = SemanticHeads.load(path)
    assert again.lexical_weight == 0.25 and again.lexical.vocabulary == heads.lexical.vocabulary
    assert np.allclose(again.predict_proba(emb, texts), heads.predict_proba(emb, texts), atol=1e-6)


def test_a_hidden_layer_head_is_the_relu_network_and_survives_a_round_trip(tmp_path):
    rng = np.random.default_rng(3)
    w1, b1 = rng.normal(size=(8, 5)), rng.normal(size=5)
    heads = SemanticHeads(CLASSES, rng.normal(size=(3, 5)), rng.normal(size=3), link="softmax", hidden=(w1, b1),
                          lexical=tiny_heads().lexical, lexical_weight=0.25)
    emb = rng.normal(size=(4, 8)).astype(np.float32)
    texts = ["selling heroin", "a gang shooting a rival", "kids flying kites", "a chef"]
    linear = SemanticHeads(CLASSES, heads.coef, heads.intercept, link="softmax")
    expected = 0.75 * linear.predict_proba(np.maximum(emb @ w1 + b1, 0)) + 0.25 * heads._link(heads.lexical.logits(texts))
    assert np.allclose(heads.predict_proba(emb, texts), expected, atol=1e-5)
    heads.save(tmp_path / "h.npz")
    again = SemanticHeads.load(tmp_path / "h.npz")
    assert again.hidden is not None and np.allclose(again.predict_proba(emb, texts), heads.predict_proba(emb, texts), atol=1e-6)
    tiny_heads().save(tmp_path / "linear.npz")  # linear heads write no hidden layer and read back linear
    with np.load(tmp_path / "linear.npz") as z:
        assert "hidden_coef" not in z.files
    assert SemanticHeads.load(tmp_path / "linear.npz").hidden is None
    with pytest.raises(ValueError, match="units"):
        SemanticHeads(CLASSES, rng.normal(size=(3, 6)), rng.normal(size=3), link="softmax", hidden=(w1, b1))


def test_fit_heads_hidden_layer_matches_sklearns_network():
    from sklearn.neural_network import MLPClassifier

    from safety.models.train_semantic import CLASSES as ALL, HIDDEN_EPOCHS, fit_heads

    rng = np.random.default_rng(4)
    x = rng.normal(size=(220, 12)).astype(np.float32)
    labels = [ALL[i % len(ALL)] for i in range(len(x))]
    x[np.arange(len(x)), [i % 12 for i in range(len(x))]] += 3.0  # each class leans on one axis
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nets = [MLPClassifier((16,), alpha=1e-3, max_iter=HIDDEN_EPOCHS, batch_size=len(x), random_state=seed).fit(
            x, [ALL.index(label) for label in labels]) for seed in (0, 1)]

    def expected(logits):
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        safe = ALL.index("safe")
        out = p / (p + p[:, [safe]])  # each category against "safe" alone
        out[:, safe] = p[:, safe]
        return out

    def net_logits(net):
        return np.maximum(x @ net.coefs_[0] + net.intercepts_[0], 0) @ net.coefs_[1] + net.intercepts_[1]

    one = fit_heads(x, labels, hidden_units=16, hidden_alpha=1e-3)
    assert np.allclose(one.predict_proba(x), expected(net_logits(nets[0])), atol=1e-4)
    assert np.allclose(expected(net_logits(nets[0])), _against_safe(nets[0].predict_proba(x)), atol=1e-5)
    # Two seeds: one network of 32 units whose logits are the two networks' mean.
    two = fit_heads(x, labels, hidden_units=16, hidden_alpha=1e-3, hidden_seeds=2)
    assert two.hidden[0].shape == (12, 32)
    assert np.allclose(two.predict_proba(x), expected((net_logits(nets[0]) + net_logits(nets[1])) / 2), atol=1e-4)


def _against_safe(p):
    from safety.models.train_semantic import CLASSES as ALL

    safe = ALL.index("safe")
    out = p / (p + p[:, [safe]])
    out[:, safe] = p[:, safe]
    return out


def test_bundled_heads_carry_the_lexical_part_and_a_broken_file_is_a_clear_error(tmp_path):
    heads = SemanticHeads.load(DEFAULT_HEADS)
    assert heads.lexical is not None and 0 < heads.lexical_weight < 1
    assert heads.coef.shape[0] == heads.lexical.coef.shape[0] == len(heads.categories)
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ClassifierLoadError, match="cannot load semantic heads"):
        SemanticHeads.load(bad)


def test_shares_are_the_blended_multinomial_over_the_harms():
    heads = tiny_heads(0.25)
    emb = np.random.default_rng(2).normal(size=(3, 8)).astype(np.float32)
    texts = ["selling heroin", "a gang shooting a rival", "kids flying kites"]
    scores, shares = heads.predict_proba_and_shares(emb, texts)
    assert np.allclose(scores, heads.predict_proba(emb, texts))

    def softmax(z):
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    mix = 0.75 * softmax(emb @ heads.coef.T + heads.intercept) + 0.25 * softmax(heads.lexical.logits(texts))
    harm = mix[:, :2] / mix[:, :2].sum(axis=1, keepdims=True)
    assert np.allclose(shares[:, :2], harm, atol=1e-6) and np.all(shares[:, 2] == 0)
    assert np.allclose(shares.sum(axis=1), 1.0)
    sigmoid = SemanticHeads(CLASSES, heads.coef, heads.intercept, link="sigmoid")
    assert sigmoid.predict_proba_and_shares(emb)[1] is None


class _LookupEmbedder:
    """Embeddings chosen by the test: each text's vector is the logits the heads will see."""

    def __init__(self, table: dict[str, list[float]]) -> None:
        self.table = table

    def encode(self, texts):
        return np.array([self.table[t] for t in texts], np.float32)


def test_a_category_is_reported_beside_the_top_one_only_with_its_share_of_the_harm():
    from safety.normalize import NormalizedPrompt
    from safety.policy import load_policy
    from safety.semantic import SemanticLayer

    cats = ["violence", "sexual_minors", "drugs", "safe"]
    # Identity heads: the embedding is the logits.  "shooting": P(safe) is small, so sexual_minors
    # beats "safe" (0.67 >= 0.48) while holding 7 % of the harm; "both": two harms, 45 % and 55 %.
    heads = SemanticHeads(cats, np.eye(4), np.zeros(4), version="test", link="softmax", encoder_layers=6)
    embedder = _LookupEmbedder({"shooting in an office": [4.0, 1.5, 0.0, 0.8], "both harms at once": [3.0, 2.8, 0.0, 0.8],
                                "a quiet harbour": [0.0, 0.0, 0.0, 3.0]})
    prompts = [NormalizedPrompt.of(t) for t in embedder.table]
    everything = load_policy().model_copy(update={"semantic_min_share": 0.0})
    attributed = load_policy().model_copy(update={"semantic_min_share": 0.2})

    def reported(policy):
        layer = SemanticLayer(policy, heads=heads, embedder=embedder)
        return [{f.category for f in found if not f.support_only} for found in layer.findings_batch(prompts)]

    assert reported(everything) == [{"violence", "sexual_minors"}, {"violence", "sexual_minors"}, set()]
    assert reported(attributed) == [{"violence"}, {"violence", "sexual_minors"}, set()]
    # The top category stands at any min_share: whether a prompt is refused never changes.
    assert reported(load_policy().model_copy(update={"semantic_min_share": 1.0})) == [{"violence"}, {"violence"}, set()]


def test_prompts_added_later_keep_the_earlier_folds_and_never_enter_an_earlier_fold_adapter(tmp_path):
    """train_semantic --adapter-prompts: heads fitted on a grown prompt set are scored out-of-fold with
    the folds of the set the encoder adapter was fitted on, so each cached fold adapter still never saw
    its fold, and a new prompt (which no fold adapter saw) lands in a fold fixed by its text."""
    import yaml

    from safety.models.train_semantic import EarlierFolds, fold_splits, group_keys, training_examples

    lines = [f"a {c} {n} at the park" for c in ("red", "blue", "green", "small", "tall") for n in ("dog", "kite", "bus", "tree")]
    harms = [f"a video of someone {v} a stranger {w}" for v in ("beating", "stabbing", "kicking") for w in ("at night", "in a bar", "on a bus")]
    # A held-out split keeps some prompts out of training: only the training ones matter here.
    old = tmp_path / "old.yaml"
    old.write_text(yaml.safe_dump({"violence": harms, "safe": lines}))
    new = tmp_path / "new.yaml"
    added = [f"a {c} cat asleep on a {s}" for c in ("grey", "white", "ginger") for s in ("sofa", "bed", "rug")]
    new.write_text(yaml.safe_dump({"violence": harms, "safe": added[:4] + lines + added[4:]}))  # positions move
    kw = dict(external=False, augment=False, counterfactual=False, buried=False)
    earlier = EarlierFolds.of(old, folds=3, **kw)
    texts, labels, groups, _ = training_examples(prompts_file=new, **kw)
    keys = group_keys(groups, new)
    splits = fold_splits(texts, labels, groups, 3, earlier, new)
    fold_of = {keys[i]: k for k, (_, test) in enumerate(splits) for i in test}
    assert len(fold_of) == len(set(keys))  # every group in exactly one fold
    old_keys = set(earlier.fold_of)
    assert old_keys and all(fold_of[k] == earlier.fold_of[k] for k in old_keys)
    new_keys = set(keys) - old_keys
    assert new_keys
    for k, (train_rows, _) in enumerate(earlier.splits):  # the fold adapter's own rows: no new prompt, no row of its fold
        seen = {earlier.texts[i] for i in train_rows}
        assert not seen & {texts[i] for i in splits[k][1]}
        assert not seen & {t for t, key in zip(texts, keys) if key in new_keys}
    again = fold_splits(texts, labels, groups, 3, earlier, new)  # deterministic
    assert all((a[1] == b[1]).all() for a, b in zip(splits, again))
    # The earlier rows are paired as the adapter's were: "non-hate" also pairs unsafe prompts with their copies.
    copies = dict(kw, augment=True)
    benign = set(EarlierFolds.of(old, folds=3, **copies).pairs)
    assert benign and benign < set(EarlierFolds.of(old, folds=3, pairing="non-hate", **copies).pairs)


def test_the_threshold_rule_counts_the_pending_prompts_train_half_once_each_and_never_their_held_out_half(tmp_path):
    """Prompts written since the heads were fitted (safety/data/pending_prompts.yaml) join the
    whole-filter rule's out-of-fold pool: each train-half prompt in one fold, fixed by its text."""
    import hashlib

    import yaml

    from safety.dataset import PENDING_PROMPTS_FILE, PROMPTS_FILE, load_prompt_set
    from safety.models.train_semantic import fold_prompts, fold_splits, training_examples
    from safety.normalize import normalize

    fitted = {normalize(p.text) for p in load_prompt_set(PROMPTS_FILE)}
    assert not [p.text for p in load_prompt_set(PENDING_PROMPTS_FILE) if normalize(p.text) in fitted]  # none fitted on
    pending_file = tmp_path / "pending.yaml"
    pending_file.write_text(yaml.safe_dump({
        "hate": [f"a skit showing {g} as vermin number {i}" for g in ("migrants", "Roma", "Jews") for i in range(8)],
        "safe": [f"a reel of a {a} doing trick number {i}" for a in ("puppy", "parrot", "goat") for i in range(8)],
    }), encoding="utf-8")
    pending = load_prompt_set(pending_file)
    texts, labels, groups, _ = training_examples(external=False, augment=False, counterfactual=False, styled=False)
    splits = fold_splits(texts, labels, groups, 10)
    members = fold_prompts(groups, [test for _, test in splits], pending_file=pending_file)
    plain = fold_prompts(groups, [test for _, test in splits], pending_file=None)
    added = [[p for p in m if p not in set(q)] for m, q in zip(members, plain)]
    train_half = {p.text for p in pending if p.split == "train"}
    assert train_half and len(train_half) < len(pending)
    assert sorted(p.text for m in added for p in m) == sorted(train_half)  # each exactly once, no held-out one
    for k, m in enumerate(added):
        assert all(int(hashlib.sha1(p.text.encode()).hexdigest()[:8], 16) % 10 == k for p in m)
    assert sum(len(q) for q in plain) == sum(p.split == "train" for p in load_prompt_set(PROMPTS_FILE))
    # A pending file of comments alone (after a refit took every prompt in) adds nothing.
    pending_file.write_text("# none now\n", encoding="utf-8")
    assert fold_prompts(groups, [test for _, test in splits], pending_file=pending_file) == plain
