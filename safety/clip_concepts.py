"""A CLIP concept classifier on open_clip, in the manner of the Stable Diffusion safety checker.

Each policy category lists text concepts with a cosine threshold (``concepts:`` in the
policy).  A frame's score for a category is ``sigmoid((cos - threshold) / temperature)``
for its closest concept, so 0.5 means "at the concept's threshold".

Weights are never downloaded: ``pretrained`` is an open_clip tag resolved from a local
cache (``cache_dir``, or the Hugging Face cache with the hub offline), or a local
checkpoint file; ``model`` may also be ``local-dir:/path`` holding ``open_clip_config.json``
and the weights.  With no weights configured this classifier is simply not used.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np

from .errors import ClassifierLoadError
from .policy import Policy

_models: dict[tuple, tuple] = {}
_lock = threading.Lock()


def load_open_clip(model: str, pretrained: str | None = None, cache_dir: str | Path | None = None):
    """(model, preprocess, tokenizer) from local files only, cached per process."""
    key = (model, pretrained, str(cache_dir) if cache_dir else None)
    with _lock:
        if key not in _models:
            import open_clip

            os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub at run time
            try:
                net, _, preprocess = open_clip.create_model_and_transforms(
                    model, pretrained=pretrained, cache_dir=str(cache_dir) if cache_dir else None, device="cpu")
                tokenizer = open_clip.get_tokenizer(model, cache_dir=str(cache_dir) if cache_dir else None)
            except Exception as exc:  # open_clip raises RuntimeError/ValueError/OSError/hub errors alike
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise ClassifierLoadError(f"cannot load CLIP model {model!r} with weights {pretrained!r} from local files: {first}") from None
            net.eval()
            _models[key] = (net, preprocess, tokenizer)
        return _models[key]


class CLIPConceptClassifier:
    """Per-frame concept scores for every output category that lists concepts and the ``clip`` check."""

    def __init__(self, policy: Policy, model: str, pretrained: str | None = None, cache_dir: str | Path | None = None,
                 temperature: float = 0.02) -> None:
        self.model_name, self.pretrained, self.cache_dir = model, pretrained, cache_dir
        self.temperature = temperature
        self.concepts = {c: rules.concepts for c, rules in policy.with_check("output", "clip").items() if rules.concepts}
        self.categories = list(self.concepts)
        tag = Path(pretrained).name if pretrained and os.path.sep in pretrained else pretrained
        self.source = f"clip:{model}" + (f"/{tag}" if tag else "")
        self._text: np.ndarray | None = None

    def _text_features(self) -> np.ndarray:
        if self._text is None:
            import torch

            net, _, tokenizer = load_open_clip(self.model_name, self.pretrained, self.cache_dir)
            texts = [c.text for cat in self.categories for c in self.concepts[cat]]
            with torch.inference_mode():
                feats = net.encode_text(tokenizer(texts)).float()
            self._text = torch.nn.functional.normalize(feats, dim=-1).numpy()
        return self._text

    def image_features(self, frames: np.ndarray) -> np.ndarray:
        import torch
        from PIL import Image

        net, preprocess, _ = load_open_clip(self.model_name, self.pretrained, self.cache_dir)
        batch = torch.stack([preprocess(Image.fromarray(np.ascontiguousarray(f))) for f in frames])
        with torch.inference_mode():
            feats = net.encode_image(batch).float()
        return torch.nn.functional.normalize(feats, dim=-1).numpy()

    def similarities(self, frames: np.ndarray) -> np.ndarray:
        """(frames, concepts) cosine similarities, concepts in policy order."""
        return self.image_features(frames) @ self._text_features().T

    def score_frames(self, frames: np.ndarray) -> dict[str, np.ndarray]:
        if not self.categories or len(frames) == 0:
            return {c: np.zeros(len(frames), np.float32) for c in self.categories}
        cos = self.similarities(frames)
        out, col = {}, 0
        for cat in self.categories:
            thresholds = np.array([c.threshold for c in self.concepts[cat]], np.float32)
            margin = (cos[:, col:col + len(thresholds)] - thresholds).max(axis=1)
            out[cat] = (1.0 / (1.0 + np.exp(-margin / self.temperature))).astype(np.float32)
            col += len(thresholds)
        return out
