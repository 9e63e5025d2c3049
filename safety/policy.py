"""The versioned policy file: categories, actions, thresholds, checks."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

DEFAULT_POLICY = Path(__file__).with_name("policies") / "default.yaml"


class CategoryPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str = ""
    action: Literal["allow", "review", "block"]
    review_threshold: float = Field(0.5, ge=0, le=1)
    block_threshold: float = Field(0.8, ge=0, le=1)
    applies_to: list[Literal["prompt", "output"]] = ["prompt"]
    terms: list[str] = []

    @model_validator(mode="after")
    def _ordered(self) -> "CategoryPolicy":
        if self.block_threshold < self.review_threshold:
            raise ValueError("block_threshold must be >= review_threshold")
        return self

    def action_for(self, score: float) -> Literal["allow", "review", "block"]:
        """What a score in this category leads to: the category's action past the
        block threshold, review between the two thresholds."""
        if score >= self.block_threshold:
            return self.action
        if score >= self.review_threshold and self.action != "allow":
            return "review"
        return "allow"


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str
    categories: dict[str, CategoryPolicy]

    def for_stage(self, stage: str) -> dict[str, CategoryPolicy]:
        return {name: c for name, c in self.categories.items() if stage in c.applies_to}


class PolicyError(ValueError):
    """A policy file that cannot be used; the message names the file and the problem."""


def load_policy(path: str | Path | None = None) -> Policy:
    p = Path(path) if path else DEFAULT_POLICY
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
        return Policy.model_validate(data)
    except FileNotFoundError:
        raise PolicyError(f"policy file not found: {p}") from None
    except (yaml.YAMLError, ValidationError, TypeError) as exc:
        first = str(exc).strip().splitlines()
        raise PolicyError(f"policy file {p} is invalid: {' '.join(first[:3])}") from None
