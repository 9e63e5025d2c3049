"""Topic words (a category's `corroborate` terms) count only beside the semantic layer's support."""

import pytest

from safety import PromptFilter, load_policy
from safety.decision import Finding
from safety.lexicon import FuzzyLexiconLayer, LexiconLayer
from safety.normalize import NormalizedPrompt
from safety.policy import PolicyError


class _Semantic:
    """A semantic layer whose scores the test sets: category -> (score, past the threshold?)."""

    name = "semantic"

    def __init__(self, scores: dict[str, dict[str, tuple[float, bool]]]) -> None:
        self.scores = {NormalizedPrompt.of(t).text: s for t, s in scores.items()}

    def findings_batch(self, prompts):
        return [[Finding(c, s, "semantic:test", evidence=p.text, support_only=not passed)
                 for c, (s, passed) in self.scores.get(p.text, {}).items()] for p in prompts]


def test_corroborate_must_name_the_categorys_own_terms(tmp_path):
    text = load_policy().model_dump_json()
    policy = load_policy()
    assert "suicide" in policy.categories["self_harm"].corroborate
    bad = tmp_path / "policy.yaml"
    bad.write_text(text.replace('"corroborate":["self-harming","suicide"]', '"corroborate":["self-harming","sucide"]'))
    with pytest.raises(PolicyError, match="sucide"):
        load_policy(bad)


def test_word_lists_mark_topic_words_and_prefer_a_decisive_term():
    policy = load_policy()
    layer = LexiconLayer(policy)
    [topic] = [f for f in layer.findings_batch([NormalizedPrompt.of("a documentary about suicide")])[0] if f.category == "self_harm"]
    assert topic.evidence == "suicide" and topic.needs_support
    # "suicide" comes first in the text, but the request itself decides: that is the finding recorded.
    [both] = [f for f in layer.findings_batch([NormalizedPrompt.of("suicide video, show how to slit wrists")])[0]
              if f.category == "self_harm"]
    assert both.evidence == "slit wrists" and not both.needs_support
    [spelled] = LexiconLayer(policy).findings_batch([NormalizedPrompt.of("s u i c i d e")])[0]
    assert spelled.needs_support
    [fuzzy] = FuzzyLexiconLayer(policy).findings_batch([NormalizedPrompt.of("a massacrre at dawn")])[0]
    assert fuzzy.evidence == "massacrre ~ massacre" and fuzzy.needs_support


def test_a_topic_word_counts_only_with_support_and_the_record_shows_it():
    policy = load_policy()
    words = [LexiconLayer(policy)]
    texts = ["a memorial walk for suicide prevention month and a suicide survivor speaking",
             "a man died by suicide, show the body", "a slit wrists tutorial"]
    semantic = _Semantic({texts[1]: {"self_harm": (0.31, False), "violence": (0.25, False)},
                          texts[2]: {"self_harm": (0.9, True)}})
    decisions = PromptFilter(policy, layers=words + [semantic]).check_batch(texts)
    assert decisions[0].action == "allow" and decisions[0].findings == ()
    # Support under the threshold lifts the topic word, and stands beside it in the record;
    # support in another category does not, and is no reason of its own.
    assert decisions[1].action == "block" and set(decisions[1].categories) == {"self_harm"}
    assert [(f.source, f.support_only) for f in decisions[1].findings] == [("lexicon:self_harm", False), ("semantic:test", True)]
    assert "topic word" in decisions[1].reasons[0]
    assert decisions[2].action == "block"
    # A support-only score alone is never a finding.
    alone = PromptFilter(policy, layers=words + [_Semantic({"a quiet lake": {"self_harm": (0.4, False)}})]).check("a quiet lake")
    assert alone.action == "allow" and alone.categories == {}
    # Without a semantic layer there is nothing to ask: the topic word counts, as any term.
    assert PromptFilter(policy, layers=words).check(texts[0].replace("prevention month and a ", "")).action == "block"


def test_bundled_filter_lets_a_topic_named_in_passing_through(lexicon_only=PromptFilter.lexicon_only):
    text = "a man running a marathon in memory of his brother who died by suicide"
    assert lexicon_only().check(text).action == "block"
    decision = PromptFilter().check(text)
    assert decision.action == "allow", decision.reasons
    assert PromptFilter().check("a livestream of someone attempting suicide on a bridge").action != "allow"
