"""A small video diffusion transformer: spacetime patches in, velocity out.

This is the architecture the field uses for text-to-video (Sora's "spacetime
patches + diffusion transformer", DiT's adaLN-Zero blocks, Latte's factorised
space/time attention), at a size a CPU can train:

    clip (B, 3, T, H, W) in [-1, 1]
      -> tubelet patchify: a Conv3d with kernel = stride = (pt, ph, pw)
      -> + fixed 3-D sin/cos position embedding
      -> depth x Block:
            spatial self-attention   (tokens of one time step attend each other)
            temporal self-attention  (one spatial site attends across time)
            cross-attention          (tokens attend the caption's MiniLM token states)
            MLP
         each sub-layer gated and modulated by adaLN-Zero from
         c = timestep embedding + pooled caption embedding
      -> adaLN final layer -> linear -> unpatchify -> clean clip x0 (B, 3, T, H, W)
      -> velocity v = (x_t - x0) / t

Training is rectified flow: x_t = (1 - t) x_0 + t * noise, velocity
v = noise - x_0, and sampling integrates dx/dt = v from t = 1 to 0 (see
generator/sampler.py).  The network predicts the clean clip x_0 and the
velocity is derived as v = (x_t - x_0) / t (as in JiT, "Back to Basics: Let
Denoising Generative Models Denoise", 2025): a tubelet holds 4*4*4*3 = 192
numbers but a token only 128, so a network asked for v (which carries the
noise, full rank) cannot express it, while the clean clip is low-dimensional.  Factorising attention keeps its cost linear in
the number of frames; every sub-layer starts as the identity (zero-initialised
gates), which is what makes deep DiTs train stably from the first step.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class DiTConfig:
    frames: int = 16
    size: int = 32  # frames are size x size
    channels: int = 3
    patch: tuple[int, int, int] = (4, 4, 4)  # (time, height, width) of one tubelet
    width: int = 128
    depth: int = 6
    heads: int = 4
    mlp_ratio: float = 4.0
    text_dim: int = 384  # all-MiniLM-L6-v2 hidden size
    # "x0": the network predicts the clean clip and the velocity is derived from it;
    # "v": the network predicts the velocity directly.  See VideoDiT.velocity.
    prediction: str = "x0"
    name: str = "dit"
    extra: dict = field(default_factory=dict)  # free-form notes carried with the weights

    @property
    def grid(self) -> tuple[int, int, int]:
        pt, ph, pw = self.patch
        if self.frames % pt or self.size % ph or self.size % pw:
            raise ValueError(f"clip {self.frames}x{self.size}x{self.size} is not divisible by patch {self.patch}")
        return self.frames // pt, self.size // ph, self.size // pw

    def to_dict(self) -> dict:
        d = asdict(self)
        d["patch"] = list(self.patch)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "DiTConfig":
        d = dict(d)
        if "patch" in d:
            d["patch"] = tuple(d["patch"])
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in d.items() if k in known})


# ---------------------------------------------------------------- embeddings

def sincos_1d(positions: torch.Tensor, dim: int) -> torch.Tensor:
    """Transformer sin/cos features of integer positions: (N,) -> (N, dim)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
    angles = positions.float()[:, None] * freqs[None]
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)


def sincos_3d(grid: tuple[int, int, int], dim: int) -> torch.Tensor:
    """Position embedding for a (t, h, w) token grid: a third of the channels per axis."""
    gt, gh, gw = grid
    d_t = (dim // 3) // 2 * 2
    d_h = ((dim - d_t) // 2) // 2 * 2
    d_w = dim - d_t - d_h
    t, h, w = torch.meshgrid(torch.arange(gt), torch.arange(gh), torch.arange(gw), indexing="ij")
    emb = torch.cat([sincos_1d(t.flatten(), d_t), sincos_1d(h.flatten(), d_h), sincos_1d(w.flatten(), d_w)], dim=1)
    return emb  # (gt*gh*gw, dim), time-major order


class TimestepEmbedder(nn.Module):
    """t in [0, 1] -> vector, via sin/cos features of 1000 t and an MLP (as in DiT)."""

    def __init__(self, width: int, freq_dim: int = 256) -> None:
        super().__init__()
        self.freq_dim = freq_dim
        self.mlp = nn.Sequential(nn.Linear(freq_dim, width), nn.SiLU(), nn.Linear(width, width))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return self.mlp(sincos_1d(t * 1000.0, self.freq_dim).to(t.device))


# ---------------------------------------------------------------- blocks

def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1 + scale[:, None]) + shift[:, None]


class Attention(nn.Module):
    """Multi-head attention; self-attention when ``context`` is None."""

    def __init__(self, width: int, heads: int, context_dim: int | None = None) -> None:
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(width, width)
        self.kv = nn.Linear(context_dim or width, 2 * width)
        self.out = nn.Linear(width, width)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None, mask: torch.Tensor | None = None) -> torch.Tensor:
        b, n, d = x.shape
        context = x if context is None else context
        q = self.q(x).view(b, n, self.heads, -1).transpose(1, 2)
        k, v = self.kv(context).view(b, context.shape[1], 2, self.heads, -1).permute(2, 0, 3, 1, 4)
        # mask: (b, m) True where a context token is real; broadcast over heads and queries.
        attn_mask = None if mask is None else mask[:, None, None, :]
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
        return self.out(y.transpose(1, 2).reshape(b, n, d))


class Block(nn.Module):
    """Spatial attn -> temporal attn -> cross attn -> MLP, each adaLN-Zero modulated.

    Tokens arrive as (B, T*S, D) in time-major order (S = spatial sites per
    frame).  Spatial attention folds time into the batch; temporal attention
    folds space into the batch.  Cross-attention is not modulated by adaLN (as
    in PixArt) but is still gated so the block starts as the identity.
    """

    def __init__(self, cfg: DiTConfig) -> None:
        super().__init__()
        w = cfg.width
        self.norm_s = nn.LayerNorm(w, elementwise_affine=False, eps=1e-6)
        self.attn_s = Attention(w, cfg.heads)
        self.norm_t = nn.LayerNorm(w, elementwise_affine=False, eps=1e-6)
        self.attn_t = Attention(w, cfg.heads)
        self.norm_x = nn.LayerNorm(w, eps=1e-6)
        self.attn_x = Attention(w, cfg.heads, context_dim=cfg.text_dim)
        self.norm_m = nn.LayerNorm(w, elementwise_affine=False, eps=1e-6)
        hidden = int(w * cfg.mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(w, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, w))
        # shift/scale/gate for spatial, temporal and MLP sub-layers, plus a gate for cross-attention.
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(w, 10 * w))
        nn.init.zeros_(self.ada[1].weight)
        nn.init.zeros_(self.ada[1].bias)

    def forward(self, x: torch.Tensor, c: torch.Tensor, text: torch.Tensor, text_mask: torch.Tensor,
                grid: tuple[int, int, int]) -> torch.Tensor:
        b, n, d = x.shape
        gt = grid[0]
        s = n // gt
        sh_s, sc_s, g_s, sh_t, sc_t, g_t, sh_m, sc_m, g_m, g_x = self.ada(c).chunk(10, dim=1)

        h = modulate(self.norm_s(x), sh_s, sc_s).reshape(b * gt, s, d)
        x = x + g_s[:, None] * self.attn_s(h).reshape(b, n, d)

        h = modulate(self.norm_t(x), sh_t, sc_t).reshape(b, gt, s, d).transpose(1, 2).reshape(b * s, gt, d)
        h = self.attn_t(h).reshape(b, s, gt, d).transpose(1, 2).reshape(b, n, d)
        x = x + g_t[:, None] * h

        x = x + g_x[:, None] * self.attn_x(self.norm_x(x), text, text_mask)

        x = x + g_m[:, None] * self.mlp(modulate(self.norm_m(x), sh_m, sc_m))
        return x


class FinalLayer(nn.Module):
    def __init__(self, width: int, patch_dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(width, 2 * width))
        self.linear = nn.Linear(width, patch_dim)
        for layer in (self.ada[1], self.linear):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        shift, scale = self.ada(c).chunk(2, dim=1)
        return self.linear(modulate(self.norm(x), shift, scale))


# ---------------------------------------------------------------- the model

class VideoDiT(nn.Module):
    def __init__(self, cfg: DiTConfig) -> None:
        super().__init__()
        self.cfg = cfg
        pt, ph, pw = cfg.patch
        self.patch_dim = cfg.channels * pt * ph * pw
        self.embed = nn.Conv3d(cfg.channels, cfg.width, kernel_size=cfg.patch, stride=cfg.patch)
        self.register_buffer("pos", sincos_3d(cfg.grid, cfg.width)[None], persistent=False)
        self.t_embed = TimestepEmbedder(cfg.width)
        # The pooled caption vector joins the timestep in the adaLN conditioning,
        # so global attributes (colour, motion) can steer every layer directly.
        self.pool_embed = nn.Sequential(nn.Linear(cfg.text_dim, cfg.width), nn.SiLU(), nn.Linear(cfg.width, cfg.width))
        self.text_norm = nn.LayerNorm(cfg.text_dim)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.depth))
        self.final = FinalLayer(cfg.width, self.patch_dim)
        self._init_weights()

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Linear) and module.weight.abs().sum() > 0:  # leave zero-inits alone
                nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
        w = self.embed.weight
        nn.init.xavier_uniform_(w.view(w.shape[0], -1))
        nn.init.zeros_(self.embed.bias)
        nn.init.normal_(self.t_embed.mlp[0].weight, std=0.02)
        nn.init.normal_(self.t_embed.mlp[2].weight, std=0.02)

    def unpatchify(self, x: torch.Tensor) -> torch.Tensor:
        """(B, N, C*pt*ph*pw) -> (B, C, T, H, W)."""
        b = x.shape[0]
        gt, gh, gw = self.cfg.grid
        pt, ph, pw = self.cfg.patch
        x = x.view(b, gt, gh, gw, self.cfg.channels, pt, ph, pw)
        x = x.permute(0, 4, 1, 5, 2, 6, 3, 7)
        return x.reshape(b, self.cfg.channels, gt * pt, gh * ph, gw * pw)

    def forward(self, x: torch.Tensor, t: torch.Tensor, text: torch.Tensor, text_mask: torch.Tensor) -> torch.Tensor:
        """Velocity for noisy clips ``x`` (B, C, T, H, W) at times ``t`` (B,).

        ``text`` (B, L, 384) are MiniLM token states, ``text_mask`` (B, L) is True
        for real tokens; the pooled vector is their masked mean, as in
        sentence-transformers' mean pooling.
        """
        tokens = self.embed(x).flatten(2).transpose(1, 2) + self.pos  # (B, N, D), time-major
        m = text_mask.to(text.dtype)[..., None]
        pooled = (text * m).sum(1) / m.sum(1).clamp(min=1.0)
        c = self.t_embed(t) + self.pool_embed(pooled)
        text = self.text_norm(text)
        for block in self.blocks:
            tokens = block(tokens, c, text, text_mask, self.cfg.grid)
        return self.unpatchify(self.final(tokens, c))

    def velocity(self, x: torch.Tensor, t: torch.Tensor, text: torch.Tensor, text_mask: torch.Tensor,
                 t_min: float = 0.05) -> torch.Tensor:
        """dx/dt at (x, t), whatever the network predicts; t is floored at ``t_min`` in the x0 -> v division."""
        out = self(x, t, text, text_mask)
        if self.cfg.prediction == "v":
            return out
        return (x - out) / t.clamp(min=t_min).view(-1, 1, 1, 1, 1)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
