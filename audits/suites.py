"""Audit suites: templates crossed with identity descriptors, as plain prompt records."""

from __future__ import annotations

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


@dataclass(frozen=True)
class Suite:
    name: str
    samples_per_prompt: int
    prompts: tuple[AuditPrompt, ...]


def load_suite(name_or_path: str | Path) -> Suite:
    path = Path(name_or_path)
    if not path.suffix:
        path = SUITES_DIR / f"{name_or_path}.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    prompts: list[AuditPrompt] = []
    for template in data["templates"]:
        for subject in data["subjects"]:
            unmarked = " ".join(template.format(descriptor="", subject=subject).split())
            prompts.append(AuditPrompt(unmarked, template, "unmarked", "", subject))
            for attribute, descriptors in data["descriptors"].items():
                for descriptor in descriptors:
                    text = " ".join(template.format(descriptor=descriptor, subject=subject).split())
                    prompts.append(AuditPrompt(text, template, attribute, descriptor, subject))
    # Counterfactual pairs differ only in the descriptor; dedupe keeps the first.
    seen: set[str] = set()
    unique = [p for p in prompts if not (p.prompt in seen or seen.add(p.prompt))]
    return Suite(name=data.get("name", path.stem), samples_per_prompt=int(data.get("samples_per_prompt", 1)), prompts=tuple(unique))


def suite_names() -> list[str]:
    return sorted(p.stem for p in SUITES_DIR.glob("*.yaml"))


__all__ = ["AuditPrompt", "Suite", "load_suite", "suite_names"]
