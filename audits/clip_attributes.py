"""Perceived attributes by CLIP zero-shot classification, only from weights already on the machine.

CLIP's answer to "a photo of a woman" vs "a photo of a man" is a *perceived*
attribute of pixels, carrying CLIP's own biases, never a person's identity;
the report says so wherever these columns appear.  Weights are never
downloaded: ``pretrained`` is a local checkpoint file (or an open_clip tag
already in the local cache); with none configured the audit skips this
measurement and says so.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

DEFAULT_ATTRIBUTES: dict[str, dict[str, str]] = {
    "perceived_gender": {"woman": "a photo of a woman", "man": "a photo of a man"},
    "perceived_age": {"young": "a photo of a young person", "middle_aged": "a photo of a middle-aged person",
                      "elderly": "a photo of an elderly person"},
}


class ClipUnavailable(RuntimeError):
    """No usable pretrained weights: the CLIP measurement is skipped, not guessed."""


class ClipZeroShot:
    """Softmax over each attribute's label prompts, on the middle frame of a clip."""

    def __init__(self, model: str, pretrained: str | os.PathLike, *, attributes: Mapping[str, Mapping[str, str]] = DEFAULT_ATTRIBUTES,
                 cache_dir: str | os.PathLike | None = None) -> None:
        if not pretrained:
            raise ClipUnavailable("no pretrained CLIP weights configured")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a missing checkpoint must fail here, not download
        import open_clip
        import torch

        try:
            net, _, preprocess = open_clip.create_model_and_transforms(
                model, pretrained=str(pretrained), cache_dir=str(cache_dir) if cache_dir else None, device="cpu")
            tokenizer = open_clip.get_tokenizer(model)
        except Exception as exc:  # open_clip raises RuntimeError/ValueError/OSError/hub errors alike
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ClipUnavailable(f"cannot load CLIP {model!r} from {str(pretrained)!r}: {first}") from None
        net.eval()
        self.model_name, self.pretrained = model, str(pretrained)
        self.net, self.preprocess, self.torch = net, preprocess, torch
        self.attributes = {a: dict(labels) for a, labels in attributes.items()}
        with torch.no_grad():
            self.text = {}
            for attribute, labels in self.attributes.items():
                feats = net.encode_text(tokenizer(list(labels.values())))
                self.text[attribute] = feats / feats.norm(dim=-1, keepdim=True)
            self.scale = float(net.logit_scale.exp().item()) if hasattr(net, "logit_scale") else 100.0

    @property
    def tag(self) -> str:
        return f"{self.model_name}:{Path(self.pretrained).name}"

    def __call__(self, frames: np.ndarray) -> dict:
        """``clip_<attribute>_<label>`` probabilities and ``clip_<attribute>`` (the top label) for one RGB clip."""
        from PIL import Image

        frames = np.asarray(frames)
        image = Image.fromarray(np.ascontiguousarray(frames[len(frames) // 2], dtype=np.uint8), mode="RGB")
        with self.torch.no_grad():
            feats = self.net.encode_image(self.preprocess(image)[None])
            feats = feats / feats.norm(dim=-1, keepdim=True)
            out: dict = {}
            for attribute, text in self.text.items():
                probs = (self.scale * feats @ text.T).softmax(dim=-1)[0].numpy()
                labels = list(self.attributes[attribute])
                out.update({f"clip_{attribute}_{label}": float(p) for label, p in zip(labels, probs)})
                out[f"clip_{attribute}"] = labels[int(probs.argmax())]
        return out


__all__ = ["ClipUnavailable", "ClipZeroShot", "DEFAULT_ATTRIBUTES"]
