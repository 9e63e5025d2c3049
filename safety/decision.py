"""The record of a policy decision: what was decided, and why."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

Action = Literal["allow", "review", "block"]
_SEVERITY = {"allow": 0, "review": 1, "block": 2}


@dataclass(frozen=True)
class Finding:
    """One piece of evidence: a category, its score and the rule or model that produced it."""

    category: str
    score: float
    source: str  # e.g. "lexicon:sexual", "semantic:minilm-l6/heads-v1", "nudenet:320n"
    evidence: str = ""  # the normalised text that matched, or a description of the frames
    frames: tuple[int, ...] = ()  # output stage: the video frame indices that drove the score
    # A topic word (a category's `corroborate` terms): counts only beside a semantic finding for its category.
    needs_support: bool = False
    # A semantic score under the category's threshold but past corroborate_floor: never a reason on its
    # own, only the support a topic word needs.
    support_only: bool = False


@dataclass(frozen=True)
class Decision:
    action: Action
    stage: Literal["prompt", "output"]
    policy_version: str
    categories: dict[str, float] = field(default_factory=dict)  # category -> highest score seen
    findings: tuple[Finding, ...] = ()
    normalized_text: str | None = None
    # Context later stages may use, e.g. "mentions_minor", "mentions_real_person".
    flags: tuple[str, ...] = ()
    # Which layers or classifiers actually ran, so a reader knows what "allow" rests on.
    checks: tuple[str, ...] = ()
    # Output stage: category -> the video frame indices behind its score (its highest-scoring frames).
    frames: dict[str, tuple[int, ...]] = field(default_factory=dict)

    @property
    def blocked(self) -> bool:
        return self.action == "block"

    @property
    def reasons(self) -> list[str]:
        return [f"{f.category} ({f.score:.2f}) by {f.source}" + (f": {f.evidence}" if f.evidence else "")
                + (" (topic word, with the semantic layer's support)" if f.needs_support else "")
                + (" (support for a topic word)" if f.support_only else "") for f in self.findings]

    @property
    def top_category(self) -> str | None:
        return max(self.categories, key=self.categories.get) if self.categories else None

    def to_dict(self) -> dict:
        data = asdict(self)
        data["findings"] = [{**f, "frames": list(f["frames"])} for f in data["findings"]]
        data["flags"] = list(self.flags)
        data["checks"] = list(self.checks)
        data["frames"] = {c: list(v) for c, v in self.frames.items()}
        data["reasons"] = self.reasons
        return data


def strictest(actions) -> Action:
    return max(actions, key=_SEVERITY.__getitem__, default="allow")
