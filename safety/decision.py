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
    source: str  # e.g. "lexicon:sexual", "nudenet:320n"
    evidence: str = ""  # the normalised text that matched, or the frames that drove a score


@dataclass(frozen=True)
class Decision:
    action: Action
    stage: Literal["prompt", "output"]
    policy_version: str
    categories: dict[str, float] = field(default_factory=dict)  # category -> highest score seen
    findings: tuple[Finding, ...] = ()
    normalized_text: str | None = None

    @property
    def blocked(self) -> bool:
        return self.action == "block"

    @property
    def reasons(self) -> list[str]:
        return [f"{f.category} ({f.score:.2f}) by {f.source}" + (f": {f.evidence}" if f.evidence else "") for f in self.findings]

    @property
    def top_category(self) -> str | None:
        return max(self.categories, key=self.categories.get) if self.categories else None

    def to_dict(self) -> dict:
        data = asdict(self)
        data["reasons"] = self.reasons
        return data


def strictest(actions) -> Action:
    return max(actions, key=_SEVERITY.__getitem__, default="allow")
