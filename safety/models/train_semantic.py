"""Reproduce safety/models/semantic_heads.npz: one logistic-regression head per category
on all-MiniLM-L6-v2 embeddings of the normalised training prompts.

    python -m safety.models.train_semantic            # project train split only
    python -m safety.models.train_semantic --external # plus the AILuminate train half

Only the train splits are used (see safety/dataset.py); the held-out splits stay for
``python -m safety.evaluate``.  Deterministic: same data, same heads.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

from safety.dataset import AILUMINATE_FILE, BENIGN_LABELS, load_ailuminate, load_prompt_set
from safety.normalize import normalize
from safety.semantic import DEFAULT_HEADS, LinearHeads, get_embedder

CATEGORIES = ["sexual", "sexual_minors", "violence", "self_harm", "hate", "harassment", "weapons_mass_harm", "drugs",
              "real_person_likeness", "deceptive_footage"]


def training_examples(external: bool, ailuminate_path: Path | None = None) -> tuple[list[str], list[str]]:
    texts, labels = [], []
    for p in load_prompt_set():
        if p.split == "train":
            texts.append(normalize(p.text))
            labels.append(p.label if p.unsafe else "safe")
    if external:
        for p in load_ailuminate(ailuminate_path):
            # Out-of-scope hazards with no video category (ncr, ipv) are left out: they are
            # harmful, so they are no negatives, and the policy has no category to learn.
            if p.split != "train" or (p.category is None and not p.hazard.startswith("spc_")):
                continue
            texts.append(normalize(p.text))
            labels.append(p.category or "safe")  # specialised advice: chat-style prompts that are no video harm
    return texts, labels


def fit_heads(embeddings: np.ndarray, labels: list[str], C: float = 4.0, version: str = "heads-v1") -> LinearHeads:
    labels_arr = np.array(labels)
    coefs, intercepts = [], []
    for category in CATEGORIES:
        y = (labels_arr == category).astype(int)
        clf = LogisticRegression(C=C, class_weight="balanced", max_iter=2000)
        clf.fit(embeddings, y)
        coefs.append(clf.coef_[0])
        intercepts.append(clf.intercept_[0])
    return LinearHeads(CATEGORIES, np.stack(coefs), np.array(intercepts), version=version)


def recommend_thresholds(embeddings: np.ndarray, labels: list[str], C: float, max_benign_fp: float = 0.01,
                         folds: int = 5) -> dict[str, tuple[float, float]]:
    """Per category, from out-of-fold probabilities on the training data: the lowest threshold at
    which at most ``max_benign_fp`` of benign prompts score above it, and the recall it keeps."""
    from sklearn.model_selection import StratifiedKFold

    labels_arr = np.array(labels)
    oof = np.zeros((len(labels), len(CATEGORIES)))
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=0).split(embeddings, labels_arr):
        heads = fit_heads(embeddings[train], list(labels_arr[train]), C=C)
        oof[test] = heads.predict_proba(embeddings[test])
    benign = labels_arr == "safe"
    out = {}
    for j, category in enumerate(CATEGORIES):
        threshold = float(max(np.quantile(oof[benign, j], 1 - max_benign_fp), 0.05))
        recall = float((oof[labels_arr == category, j] >= threshold).mean())
        out[category] = (round(threshold + 0.005, 2), recall)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--external", action="store_true", help="also train on the AILuminate train half (CC-BY-4.0, MLCommons)")
    ap.add_argument("--ailuminate", type=Path, default=AILUMINATE_FILE)
    ap.add_argument("--C", type=float, default=4.0)
    ap.add_argument("--thresholds", action="store_true", help="print per-category thresholds for <= 1 %% benign hits (5-fold CV)")
    ap.add_argument("-o", "--output", type=Path, default=DEFAULT_HEADS)
    args = ap.parse_args(argv)
    texts, labels = training_examples(args.external, args.ailuminate)
    embeddings = get_embedder().encode(texts)
    version = "heads-v1" + ("+ailuminate" if args.external else "")
    heads = fit_heads(embeddings, labels, C=args.C, version=version)
    heads.save(args.output)
    counts = {c: labels.count(c) for c in CATEGORIES + ["safe"]}
    if args.thresholds:
        for category, (threshold, recall) in recommend_thresholds(embeddings, labels, args.C).items():
            print(f"  {category:22s} semantic_threshold {threshold:.2f}  (out-of-fold recall {100 * recall:.0f} %)")
    print(f"wrote {args.output} ({version}) from {len(texts)} prompts: {counts}")


if __name__ == "__main__":
    main()
