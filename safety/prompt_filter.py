"""The prompt filter: policy categories scored on a normalised prompt, layer by layer.

Layers (each optional, each named in the decision's ``checks``):
``LexiconLayer`` exact terms, ``FuzzyLexiconLayer`` misspelt terms, ``NameLayer``
real people's names, ``SemanticLayer`` MiniLM embeddings + trained heads.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence

from .decision import Decision, Finding, strictest
from .lexicon import FuzzyLexiconLayer, LexiconLayer, NameLayer, _phrase_regex
from .normalize import NormalizedPrompt, validate_prompt
from .policy import Policy, load_policy

log = logging.getLogger("safety.decisions")


class _PerPromptLayer:
    """Adapts a layer that only has ``findings(views, runs)`` to the batched interface."""

    def __init__(self, layer) -> None:
        self.layer = layer
        self.name = getattr(layer, "name", type(layer).__name__)

    def findings_batch(self, prompts: Sequence[NormalizedPrompt]) -> list[list[Finding]]:
        return [self.layer.findings(p.views, p.runs) for p in prompts]


class PromptFilter:
    """Decide allow / review / block for prompts under a policy.

    ``PromptFilter()`` runs every layer, the semantic one included (the embedder loads on
    the first check, once per process).  ``PromptFilter.lexicon_only()`` is the cheap
    construction: word lists only, no model.
    """

    def __init__(self, policy: Policy | None = None, layers: Iterable | None = None, *, extra_names: Iterable[str] = (),
                 semantic: bool = True, semantic_heads=None, embedder=None) -> None:
        self.policy = policy or load_policy()
        if layers is None:
            layers = [LexiconLayer(self.policy), FuzzyLexiconLayer(self.policy), NameLayer(self.policy, extra_names)]
            if semantic:
                from .semantic import SemanticLayer

                layers.append(SemanticLayer(self.policy, heads=semantic_heads, embedder=embedder))
        self.layers = [layer if hasattr(layer, "findings_batch") else _PerPromptLayer(layer) for layer in layers]
        self._minor = _phrase_regex(self.policy.minor_terms)

    @classmethod
    def lexicon_only(cls, policy: Policy | None = None, *, extra_names: Iterable[str] = ()) -> "PromptFilter":
        return cls(policy, extra_names=extra_names, semantic=False)

    @property
    def checks(self) -> tuple[str, ...]:
        return tuple(layer.name for layer in self.layers)

    def __call__(self, prompt: str) -> Decision:
        return self.check(prompt)

    def check(self, prompt: str) -> Decision:
        """One prompt; raises PromptError for a prompt that cannot be checked."""
        return self.check_batch([prompt])[0]

    def check_batch(self, prompts: Sequence[str]) -> list[Decision]:
        """Many prompts at once: each layer runs once over the whole batch (one embedding pass).

        Every prompt is validated first, so a bad one fails the batch before any work is done;
        callers that want per-prompt errors validate with ``safety.validate_prompt`` themselves.
        """
        if isinstance(prompts, (str, bytes)):
            raise TypeError("check_batch takes a sequence of prompts; use check() for one")
        texts = [validate_prompt(p, self.policy.max_prompt_chars) for p in prompts]
        normalized = [NormalizedPrompt.of(t) for t in texts]
        per_layer = [layer.findings_batch(normalized) for layer in self.layers]
        decisions = []
        for i, norm in enumerate(normalized):
            findings = [f for layer_findings in per_layer for f in layer_findings[i]]
            decision = self._decide(findings, norm)
            if log.isEnabledFor(logging.INFO):  # the record is built only when someone listens
                log.info("prompt decision", extra={"decision": decision.to_dict()})
            decisions.append(decision)
        return decisions

    def _corroborated(self, findings: list[Finding]) -> list[Finding]:
        """The findings that count: a topic word only beside a semantic finding of its category (and
        then that finding with it, as its support); support-only semantic scores only as support.
        Without a semantic layer a topic word counts alone, as any term."""
        if not any(f.needs_support or f.support_only for f in findings):
            return findings
        if "semantic" not in self.checks:
            return [f for f in findings if not f.support_only]
        semantic = {f.category for f in findings if f.source.startswith("semantic")}
        kept = [f for f in findings if not f.support_only and (not f.needs_support or f.category in semantic)]
        supported = {f.category for f in kept if f.needs_support}
        return kept + [f for f in findings if f.support_only and f.category in supported]

    def _decide(self, findings: list[Finding], norm: NormalizedPrompt) -> Decision:
        rules = self.policy.categories
        findings = self._corroborated(findings)
        scores: dict[str, float] = {}
        for f in findings:
            scores[f.category] = max(scores.get(f.category, 0.0), f.score)
        # Every prompt-stage finding passed its layer's gate: at least review (see action_for).
        action = strictest(rules[c].action_for(s, evidence=True) for c, s in scores.items() if c in rules)
        flags = []
        if self._minor is not None and any(self._minor.search(v) for v in norm.views):
            flags.append("mentions_minor")
        if any(c in scores for c in rules if rules[c].uses("names") or c == "real_person_likeness"):
            flags.append("mentions_real_person")
        return Decision(action=action, stage="prompt", policy_version=self.policy.version, categories=scores,
                        findings=tuple(findings), normalized_text=norm.text, flags=tuple(flags), checks=self.checks)
