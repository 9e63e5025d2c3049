"""The versioned policy file: categories, actions, thresholds, checks."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from .errors import SafetyError

DEFAULT_POLICY = Path(__file__).with_name("policies") / "default.yaml"
DATA_DIR = Path(__file__).with_name("data")

# The checks a category can ask for.  Prompt stage: lexicon (exact terms), fuzzy
# (misspelt terms), names (real people), semantic (MiniLM + trained head).
# Output stage: nudity (NudeNet), clip (concept similarity), faces (Haar cascade
# + the likeness/minors rules), temporal (evidence that persists across frames).
Check = Literal["lexicon", "fuzzy", "names", "semantic", "nudity", "clip", "faces", "temporal"]


class Concept(BaseModel):
    """A CLIP text concept, in the manner of the Stable Diffusion safety checker: a frame whose
    image embedding has cosine similarity >= threshold with the concept counts as evidence."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1)
    threshold: float = Field(0.25, ge=-1, le=1)


class CategoryPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str = ""
    action: Literal["allow", "review", "block"]
    review_threshold: float = Field(0.5, ge=0, le=1)
    block_threshold: float = Field(0.8, ge=0, le=1)
    applies_to: list[Literal["prompt", "output"]] = ["prompt"]
    # The semantic head's probability counts as evidence from here on (None: the review threshold);
    # prompt-stage evidence is reviewed at least, so this may sit below review_threshold.
    # Tuned on the training split: `python -m safety.models.train_semantic --threshold --whole-filter`.
    semantic_threshold: float | None = Field(None, ge=0, le=1)
    checks: list[Check] = ["lexicon", "fuzzy", "semantic"]
    terms: list[str] = []
    # Co-occurrence rule: fires when every group has a term in the prompt (e.g. a minor AND a sexual term).
    all_of: list[list[str]] = []
    allow_phrases: list[str] = []  # a term inside one of these ("naked eye", "suicide prevention") does not count
    # Terms of `terms` that name a topic rather than ask for the harm ("suicide", "massacre", "meth"):
    # they count only where the semantic layer scores this category at least Policy.corroborate_floor
    # (a filter without the semantic layer counts them alone, as any term).
    corroborate: list[str] = []
    # Lists of names, one a line: "builtin:public_figures" or a path relative to the policy file.
    names: list[str] = []
    concepts: list[Concept] = []

    @model_validator(mode="after")
    def _ordered(self) -> "CategoryPolicy":
        if self.block_threshold < self.review_threshold:
            raise ValueError("block_threshold must be >= review_threshold")
        unknown = sorted({t.strip().lower() for t in self.corroborate} - {t.strip().lower() for t in self.terms})
        if unknown:
            raise ValueError(f"corroborate lists {unknown}, which are not among the category's terms")
        return self

    def action_for(self, score: float, evidence: bool = False) -> Literal["allow", "review", "block"]:
        """What a score in this category leads to: the category's action past the
        block threshold, review between the two thresholds.  ``evidence``: the score already
        passed a check's own gate (a word list hit, a semantic head past ``semantic_threshold``),
        so it is reviewed at least: a finding is never allowed in silence."""
        if score >= self.block_threshold:
            return self.action
        if (score >= self.review_threshold or evidence) and self.action != "allow":
            return "review"
        return "allow"

    def uses(self, check: str) -> bool:
        return check in self.checks


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str
    max_prompt_chars: int = Field(2000, ge=1, le=100_000)
    # Words that mark a prompt as being about children; the output rules use this flag.
    minor_terms: list[str] = []
    # The semantic layer reports its top category past threshold, and another category past its
    # threshold only where that category holds at least this share of the harm the heads see
    # (0: every category past its threshold; see safety/README.md, "Category attribution").
    semantic_min_share: float = Field(0.0, ge=0.0, le=1.0)
    # The semantic score of a category at which its `corroborate` terms count.
    corroborate_floor: float = Field(0.2, ge=0.0, le=1.0)
    categories: dict[str, CategoryPolicy]

    _base_dir: Path = PrivateAttr(default=DEFAULT_POLICY.parent)

    def for_stage(self, stage: str) -> dict[str, CategoryPolicy]:
        return {name: c for name, c in self.categories.items() if stage in c.applies_to}

    def with_check(self, stage: str, check: str) -> dict[str, CategoryPolicy]:
        return {name: c for name, c in self.for_stage(stage).items() if c.uses(check)}

    def names_for(self, category: str) -> list[str]:
        """The names listed for a category, from the bundled lists and the team's own files."""
        out: list[str] = []
        for ref in self.categories[category].names:
            path = DATA_DIR / f"{ref.split(':', 1)[1]}.txt" if ref.startswith("builtin:") else self._base_dir / ref
            try:
                lines = path.read_text(encoding="utf-8").splitlines()
            except OSError:
                raise PolicyError(f"names list {ref!r} of category {category!r} not found at {path}") from None
            out += [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
        return out


class PolicyError(SafetyError, ValueError):
    """A policy file that cannot be used; the message names the file and the problem."""


def load_policy(path: str | Path | None = None) -> Policy:
    p = Path(path) if path else DEFAULT_POLICY
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
        policy = Policy.model_validate(data)
    except FileNotFoundError:
        raise PolicyError(f"policy file not found: {p}") from None
    except (yaml.YAMLError, ValidationError, TypeError) as exc:
        first = str(exc).strip().splitlines()
        raise PolicyError(f"policy file {p} is invalid: {' '.join(first[:3])}") from None
    policy._base_dir = p.resolve().parent
    return policy
