"""The semantic heads file: embedding head blended with the TF-IDF head, saved and loaded."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from safety.errors import ClassifierLoadError
from safety.semantic import DEFAULT_HEADS, LexicalHead, LinearHeads

CLASSES = ["violence", "drugs", "safe"]
TEXTS = ["a man stabbed in an alley", "a gang shooting a rival", "snorting cocaine in a club", "selling heroin on a corner",
         "a chef cutting onions", "kids flying kites", "a dog catching a frisbee", "a barista pouring coffee"]
LABELS = [0, 0, 1, 1, 2, 2, 2, 2]


def tiny_heads(weight: float = 0.5) -> LinearHeads:
    rng = np.random.default_rng(0)
    lexical = LexicalHead.fit(TEXTS, np.array(LABELS), C=16.0)
    return LinearHeads(CLASSES, rng.normal(size=(3, 8)), rng.normal(size=3), version="tiny", link="softmax",
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


def test_blend_is_the_weighted_mean_and_needs_the_texts(tmp_path):
    heads = tiny_heads(0.25)
    emb = np.random.default_rng(1).normal(size=(2, 8)).astype(np.float32)
    texts = ["selling heroin", "kids flying kites"]
    alone = LinearHeads(CLASSES, heads.coef, heads.intercept, link="softmax").predict_proba(emb)
    lexical_only = heads._link(heads.lexical.logits(texts))
    assert np.allclose(heads.predict_proba(emb, texts), 0.75 * alone + 0.25 * lexical_only, atol=1e-6)
    with pytest.raises(ValueError, match="texts"):
        heads.predict_proba(emb)

    path = tmp_path / "heads.npz"
    heads.save(path)
    again = LinearHeads.load(path)
    assert again.lexical_weight == 0.25 and again.lexical.vocabulary == heads.lexical.vocabulary
    assert np.allclose(again.predict_proba(emb, texts), heads.predict_proba(emb, texts), atol=1e-6)


def test_bundled_heads_carry_the_lexical_part_and_a_broken_file_is_a_clear_error(tmp_path):
    heads = LinearHeads.load(DEFAULT_HEADS)
    assert heads.lexical is not None and 0 < heads.lexical_weight < 1
    assert heads.coef.shape[0] == heads.lexical.coef.shape[0] == len(heads.categories)
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ClassifierLoadError, match="cannot load semantic heads"):
        LinearHeads.load(bad)


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
    sigmoid = LinearHeads(CLASSES, heads.coef, heads.intercept, link="sigmoid")
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
    heads = LinearHeads(cats, np.eye(4), np.zeros(4), version="test", link="softmax", encoder_layers=6)
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
