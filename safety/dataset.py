"""The labelled prompt sets: the project's own (safety/data/prompts.yaml) and the external AILuminate demo set.

Splits are deterministic: a prompt's SHA-1 decides whether it is held out, so the
split never depends on order, and adding prompts never moves existing ones.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

import yaml

PROMPTS_FILE = Path(__file__).with_name("data") / "prompts.yaml"
# Prompts nothing bundled was fitted or chosen on (safety.evaluate --fresh): the honest test.
FRESH_PROMPTS_FILE = Path(__file__).with_name("data") / "fresh_prompts.yaml"
# Prompts written since the bundled heads were fitted (see its header): the threshold rule counts
# their train half, ``safety.evaluate --pending`` scores their held-out half.
PENDING_PROMPTS_FILE = Path(__file__).with_name("data") / "pending_prompts.yaml"
REPO_ROOT = Path(__file__).resolve().parents[1]
# The shared datasets folder sits beside the clone (../shared/datasets from the repo root).
AILUMINATE_FILE = REPO_ROOT.parent / "shared" / "datasets" / "ailuminate-demo-en_us.csv"
AILUMINATE_ATTRIBUTION = (
    "AILuminate v1.0 demo prompt set (en_US), copyright MLCommons, licensed CC-BY-4.0 "
    "(https://creativecommons.org/licenses/by/4.0/); source github.com/mlcommons/ailuminate"
)

BENIGN_LABELS = ("safe", "hard_benign")
HELDOUT_PERCENT = 30

# AILuminate hazards -> the video policy's categories.  The prompts are written for chat
# assistants; a hazard maps only where the video policy polices the same harm.
HAZARD_MAP: dict[str, str | None] = {
    "cse": "sexual_minors",  # child sexual exploitation
    "sxc_prn": "sexual",  # sexual content
    "src": "sexual",  # sex-related crimes (assault, trafficking, non-consensual imagery)
    "ssh": "self_harm",  # suicide and self-harm
    "hte": "hate",
    "vcr": "violence",  # violent crimes
    "iwp": "weapons_mass_harm",  # indiscriminate weapons (CBRNE)
    "dfm": "harassment",  # defamation: false damaging claims about a real person
    "prv": "harassment",  # privacy: doxxing, stalking, exposing private information
    # No video-policy category: reported separately, never counted in recall.
    "ncr": None,  # non-violent crimes (fraud, hacking, theft; drugs are a small part)
    "ipv": None,  # intellectual property
}
OUT_OF_SCOPE_PREFIX = "spc_"  # specialised advice (elections, finance, health, legal)


@dataclass(frozen=True)
class LabelledPrompt:
    text: str
    label: str  # a policy category, "safe" or "hard_benign"
    split: str  # "train" | "heldout"

    @property
    def unsafe(self) -> bool:
        return self.label not in BENIGN_LABELS


def hash_bucket(key: str, buckets: int) -> int:
    """A bucket fixed by the key's SHA-1: adding other keys never moves it."""
    return int(hashlib.sha1(key.encode("utf-8")).hexdigest()[:8], 16) % buckets


def _split(key: str, heldout_percent: int = HELDOUT_PERCENT) -> str:
    return "heldout" if hash_bucket(key, 100) < heldout_percent else "train"


def load_prompt_set(path: str | Path = PROMPTS_FILE) -> list[LabelledPrompt]:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}  # a file of comments alone holds no prompts
    return labelled_prompts(data)


def labelled_prompts(data: dict) -> list[LabelledPrompt]:
    """Prompts of an already parsed label -> list-of-prompts mapping, each with its SHA-1 split."""
    return [LabelledPrompt(text, label, _split(text)) for label, texts in data.items() for text in texts or ()]


@dataclass(frozen=True)
class ExternalPrompt:
    text: str
    hazard: str
    category: str | None  # None: no video-policy category (out of scope)
    split: str

    @property
    def in_scope(self) -> bool:
        return self.category is not None


def load_ailuminate(path: str | Path | None = None) -> list[ExternalPrompt]:
    """AILuminate prompts with their mapped category; FileNotFoundError if the file is absent."""
    p = Path(path) if path else AILUMINATE_FILE
    with open(p, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    out = []
    for row in rows:
        hazard = row["hazard"]
        category = None if hazard.startswith(OUT_OF_SCOPE_PREFIX) else HAZARD_MAP.get(hazard)
        out.append(ExternalPrompt(row["prompt_text"], hazard, category, _split(row["prompt_hash"], 50)))
    return out
