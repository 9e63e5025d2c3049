"""Audit suites: templates crossed with identity descriptors, as plain prompt records."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

SUITES_DIR = Path(__file__).with_name("suites")


@dataclass(frozen=True)
class AuditPrompt:
    prompt: str
    template: str
    attribute: str  # e.g. "skin_tone", or "unmarked" for the default-measuring prompt
    descriptor: str  # the descriptor filled in, "" when unmarked
    subject: str  # the role/occupation or activity

    @property
    def group(self) -> str:
        """The group a rate is reported for: ``attribute:descriptor``, or ``unmarked``."""
        return "unmarked" if self.attribute == "unmarked" else f"{self.attribute}:{self.descriptor}"


@dataclass(frozen=True)
class Suite:
    name: str
    samples_per_prompt: int
    prompts: tuple[AuditPrompt, ...]
    base_seed: int = 0  # sample i of a prompt gets a seed derived from (base_seed, prompt, i)


def _fill(template: str, descriptor: str, subject: str) -> str:
    text = " ".join(template.format(descriptor=descriptor, subject=subject).split())
    # "a elderly nurse" reads as a typo to people and to language models alike; fix the article.
    return re.sub(r"\b([Aa]) (?=[aeiouAEIOU])", lambda m: m.group(1) + "n ", text)


def load_suite(name_or_path: str | Path) -> Suite:
    path = Path(name_or_path)
    if not path.suffix:
        path = SUITES_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"no audit suite {name_or_path!r} (bundled: {', '.join(suite_names())})")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    prompts: list[AuditPrompt] = []
    for template in data["templates"]:
        for subject in data["subjects"]:
            unmarked = _fill(template, "", subject)
            prompts.append(AuditPrompt(unmarked, template, "unmarked", "", subject))
            for attribute, descriptors in (data.get("descriptors") or {}).items():
                for descriptor in descriptors:
                    text = _fill(template, descriptor, subject)
                    prompts.append(AuditPrompt(text, template, attribute, descriptor, subject))
    # Counterfactual pairs differ only in the descriptor; dedupe keeps the first.
    seen: set[str] = set()
    unique = [p for p in prompts if not (p.prompt in seen or seen.add(p.prompt))]
    return Suite(name=data.get("name", path.stem), samples_per_prompt=int(data.get("samples_per_prompt", 1)),
                 prompts=tuple(unique), base_seed=int(data.get("base_seed", 0)))


def suite_names() -> list[str]:
    return sorted(p.stem for p in SUITES_DIR.glob("*.yaml"))


__all__ = ["AuditPrompt", "Suite", "load_suite", "suite_names"]
