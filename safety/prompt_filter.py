"""The prompt filter: policy categories scored on a normalised prompt.

This is the lexicon layer: whole-word or whole-phrase matches on the
normalised text and on its de-spaced view.  Further layers (fuzzy lexicons,
semantic classifiers) add findings to the same Decision.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from .decision import Decision, Finding, strictest
from .normalize import join_spaced_letters, normalize, spaced_runs
from .policy import Policy, load_policy


class LexiconLayer:
    """Exact whole-word matches of each category's terms."""

    name = "lexicon"

    def __init__(self, policy: Policy) -> None:
        self._patterns: dict[str, re.Pattern[str]] = {}
        self._inside: dict[str, re.Pattern[str]] = {}
        for category, rules in policy.for_stage("prompt").items():
            terms = sorted({normalize(t) for t in rules.terms if t.strip()}, key=len, reverse=True)
            if terms:
                alternatives = "|".join(re.escape(t) for t in terms)
                self._patterns[category] = re.compile(rf"(?<![\w-])(?:{alternatives})(?![\w-])")
                # Inside spelled-out runs, single-word terms of 4+ letters match anywhere.
                inner = [re.escape(t) for t in terms if " " not in t and len(t) >= 4]
                if inner:
                    self._inside[category] = re.compile("|".join(inner))

    def findings(self, views: Sequence[str], runs: Sequence[str] = ()) -> list[Finding]:
        found: list[Finding] = []
        for category, pattern in self._patterns.items():
            inside = self._inside.get(category)
            candidates = [(pattern, v) for v in views] + [(inside, r) for r in runs if inside is not None]
            for regex, view in candidates:
                m = regex.search(view)
                if m:
                    found.append(Finding(category=category, score=1.0, source=f"{self.name}:{category}", evidence=m.group(0)))
                    break
        return found


class PromptFilter:
    """Decide allow / review / block for prompts under a policy."""

    def __init__(self, policy: Policy | None = None, layers: Iterable | None = None) -> None:
        self.policy = policy or load_policy()
        self.layers = list(layers) if layers is not None else [LexiconLayer(self.policy)]

    def __call__(self, prompt: str) -> Decision:
        return self.check(prompt)

    def check(self, prompt: str) -> Decision:
        return self.check_batch([prompt])[0]

    def check_batch(self, prompts: Sequence[str]) -> list[Decision]:
        decisions = []
        for prompt in prompts:
            if not isinstance(prompt, str):
                raise TypeError("prompts must be strings")
            text = normalize(prompt)
            views = [text]
            despaced = join_spaced_letters(text)
            if despaced != text:
                views.append(despaced)
            runs = spaced_runs(text)
            findings = [f for layer in self.layers for f in layer.findings(views, runs)]
            decisions.append(self._decide(findings, text))
        return decisions

    def _decide(self, findings: list[Finding], text: str) -> Decision:
        rules = self.policy.categories
        scores: dict[str, float] = {}
        for f in findings:
            scores[f.category] = max(scores.get(f.category, 0.0), f.score)
        action = strictest(rules[c].action_for(s) for c, s in scores.items())
        return Decision(action=action, stage="prompt", policy_version=self.policy.version, categories=scores,
                        findings=tuple(findings), normalized_text=text)
