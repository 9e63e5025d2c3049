"""Skyseal's own video watermark: keyed dithered quantisation of low-frequency luma projections.

Design, and why each part is there:

* **Canonical working size.**  Every frame's luma is brought to N x N (128):
  a Gaussian pyramid down to 2N, then one last Gaussian halving, so any
  resized copy ends with the same low-pass and measures like the original.
  The mark is designed there; only the *residual* is upsampled and added to
  the full-size frame (the same value on R, G and B changes luma only).
* **Low frequencies that H.264 keeps.**  The mark lives in the two lowest AC
  coefficients, (0, 1) and (1, 0), of the 8 x 8 DCT blocks of the working
  image: a half cosine across the block, i.e. a period of 32 pixels of a 256p
  frame and 270 of 1080p.  A cell's distortion does not depend on how many
  coefficients share it, but the noise does: with five more, higher
  coefficients (periods down to 10 px at 256p) the same PSNR gave a pilot
  statistic ~15 % lower after CRF 40 and lost 1 in 8 pans at 256p.
* **Quantisation, not addition.**  Natural images put far more energy in those
  frequencies than a mark at 42 dB PSNR can (host std 40-90 against ~2), so an
  additive spread-spectrum mark drowns in its own picture.  Instead each *cell*
  (one block's band coefficients projected on a keyed +-1 chip vector) is moved
  to the nearest point of a keyed, dithered lattice (spread-transform dither
  modulation); a code bit shifts the lattice by half a step.  The picture's
  own energy then costs nothing; what matters is the noise processing adds,
  against the step.  Pilot cells use a coarser lattice than payload cells:
  detection has to survive more than payload recovery.  A second pass measures
  the marked frames and tops up what resampling and saturated channels left
  short, so every cell sits on its lattice point in the delivered pixels.
* **Every frame carries everything**, so detection pools frames; a re-encode
  keeps the mark best in intra frames (its predicted frames carry motion-
  shifted copies), so the first frame, which is always intra, is a candidate
  on its own too.  Brightness and contrast scale the projections, so
  detection searches a grid of gains, and a grid of centre-crop scales.
* **Cells are local** (a crop loses the cells it cuts; the code corrects those
  erasures) and are assigned to the pilot or to the rate-1/2 convolutionally
  coded payload by a keyed permutation, so neighbouring cells serve different bits.

Why the p-values hold without a model of the content: each cell's soft value
``t = cos(2 pi (h / (gain * step) - dither))`` has a uniformly random keyed
dither, so under "no watermark" (content independent of the key) ``t`` and
``-t`` are equally likely and cells are independent.  Given magnitudes, signs
are fair coins, so the self-normalised sum ``Z = sum_j s_j t_j / sqrt(sum_j
t_j**2)`` obeys Hoeffding's ``P(Z >= z) <= exp(-z**2 / 2)`` and Pinelis'
``P(Z >= z) <= (2 e**3 / 9) Q(z)``.  The pilot test uses ``s = +1`` and pays
(weighted Bonferroni) for every crop scale, gain and frame candidate it
tries; the payload test uses the decoded codeword with a union bound over all
2**48 CRC-valid payloads.  The reported p-value is twice the smaller of the two.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from .errors import ProvenanceError
from .payload import (
    ID_BITS, RATE_HALF, bits_to_payload, codeword_bits, conv_encode, payload_is_valid, payload_to_codeword,
    viterbi_decode,
)
from .wm_result import WatermarkResult

# A public default so that a fresh install detects its own marks; a deployment sets its own key
# (whoever holds the key can read, forge or target the mark).
DEFAULT_KEY = "skyseal-public-development-key-v1"

# Block-DCT coefficients (row, column frequency) carrying the mark; DC is left alone because
# it makes blocky patterns.
BAND = ((0, 1), (1, 0))


@functools.cache
def _warn_public_key() -> None:
    # Anyone can read, forge or strip a mark made with the public key: fine for development, not for a
    # deployment.  Once per process, so a batch or the service does not repeat it per clip; reading
    # marks with it harms no one and stays quiet.
    logging.getLogger("provenance").warning(
        "watermark: marking with the public development key; a deployment sets its own secret "
        "(provenance.watermark_key in the config, or SkysealWatermarker(key=...))")


def _dct_matrix(n: int) -> np.ndarray:
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    d = np.cos(np.pi * (2 * i + 1) * k / (2 * n)) * np.sqrt(2.0 / n)
    d[0] /= np.sqrt(2.0)
    return d


# Pinelis (1994): for independent symmetric X_i, P(sum X_i / sqrt(sum X_i**2) >= z) <= (2 e**3 / 9) P(N(0,1) >= z).
_PINELIS = 2 * math.e**3 / 9


def _log_tail(z: float) -> float:
    """log of an upper bound on P(Z >= z) under "no watermark", valid for any content.

    Z is a self-normalised sum of independent sign-symmetric terms: Hoeffding's bound
    exp(-z**2/2) holds, and Pinelis' (2e**3/9) * Q(z) is tighter in the far tail.
    """
    if z <= 0:
        return 0.0
    gaussian_tail = 0.5 * math.erfc(z / math.sqrt(2))
    pinelis = math.log(_PINELIS * gaussian_tail) if gaussian_tail > 0 else -math.inf
    return min(0.0, -0.5 * z * z, pinelis)


def null_tail(z: float) -> float:
    """Upper bound on P(Z >= z) for one pilot or payload statistic on unmarked video."""
    return math.exp(_log_tail(z))


@dataclass(frozen=True)
class SkysealAnalysis:
    """Everything detection measured; ``WatermarkResult`` is its public summary."""

    found: bool
    payload: str | None  # accepted payload (valid CRC and significant on its own)
    decoded: str  # the decoder's 64 bits as hex, accepted or not ("" when nothing was read)
    p_value: float
    p_pilot: float
    p_payload: float
    z_pilot: float
    z_payload: float
    scale: float  # centre-crop scale that fitted best (1.0 = uncropped)
    gain: float  # luma gain that fitted best
    frames_checked: int
    pilot_agreement: float  # share of pilot cells on the expected side, ~0.5 on unmarked video
    per_frame_agreement: list[float] = field(default_factory=list)


class SkysealWatermarker:
    """Skyseal's default watermark backend (the module docstring explains the design)."""

    algorithm = "skyseal/stdm-v2"

    def __init__(
        self,
        *,
        key: str | bytes = DEFAULT_KEY,
        step: float = 36.0,
        pilot_step: float = 59.0,
        threshold: float = 1e-6,
        working_size: int = 128,
        band: tuple[tuple[int, int], ...] = BAND,
        generators: tuple[int, ...] = RATE_HALF,
        cell_size: int | None = None,
        code_share: float = 0.55,
        max_frames: int = 64,
        crop_scales: tuple[float, ...] | None = None,
        gains: tuple[float, ...] | None = None,
    ) -> None:
        if working_size % 8:
            raise ValueError("working_size must be a multiple of 8")
        cell_size = cell_size or len(band)  # default: one cell per block
        if len(band) % cell_size:
            raise ValueError("cell_size must divide the number of band coefficients")
        self.step, self.pilot_step, self.threshold, self.size, self.max_frames = step, pilot_step, threshold, working_size, max_frames
        self.generators = tuple(generators)
        self.scales = np.array(crop_scales if crop_scales is not None else np.round(np.arange(1.0, 0.7999, -0.01), 4))
        self.gains = np.array(gains if gains is not None else np.round(np.geomspace(0.7, 1.4, 18), 4))
        if 1.0 not in self.scales:
            raise ValueError("crop_scales must include 1.0")
        # Gains a plain re-encode produces (its quantiser shrinks coefficients by a few per cent).
        self._primary = (self.gains >= 0.9) & (self.gains <= 1.03)
        if not self._primary.any():
            raise ValueError("gains must include values between 0.9 and 1.03")
        d = _dct_matrix(8)
        # Only band coefficients are needed: one 64 x band basis does the block DCT as a matmul.
        self._basis = np.stack([np.outer(d[u], d[v]).reshape(-1) for u, v in band], axis=1).astype(np.float32)
        nbd = len(band)
        self._nb = nb = working_size // 8
        # Cells: ``cell_size`` band coefficients of one block each (slot = block * nbd + coefficient).
        groups = np.arange(nbd).reshape(-1, cell_size)
        self._cell_slots = (np.arange(nb * nb)[:, None, None] * nbd + groups[None]).reshape(-1, cell_size)
        self._slot_block = np.arange(nb * nb * nbd) // nbd
        n_cells, per_cell = self._cell_slots.shape
        self._n_code = codeword_bits(self.generators)
        # Each code bit is repeated over several cells (soft-combined when read); the rest are pilot.
        repeats = max(1, int(n_cells * code_share) // self._n_code)
        n_code_cells = repeats * self._n_code
        if n_cells < n_code_cells + 32:
            raise ValueError("working size too small for the payload")
        # The key only seeds the layout and is not kept, so it cannot leak through repr or errors.
        raw = key.encode() if isinstance(key, str) else bytes(key)
        self._public_key = raw == DEFAULT_KEY.encode()
        for attempt in range(1000):
            seed = hashlib.sha256(b"skyseal-stdm-v2|" + raw + b"|" + str(attempt).encode()).digest()[:16]
            rng = np.random.default_rng(int.from_bytes(seed, "big"))
            self._chips = rng.choice(np.array([-1.0, 1.0], dtype=np.float32), size=(n_cells, per_cell))
            self._dither = rng.random(n_cells)
            role = rng.permutation(n_cells)  # role[c] < n_code_cells: code bit role[c] % n_code; else pilot
            self._code_bit = np.where(role < n_code_cells, role % self._n_code, -1)
            self._pilot = role >= n_code_cells
            self._code_cells = np.flatnonzero(~self._pilot)
            self._code_of_cell = self._code_bit[self._code_cells]
            if self._flat_content_is_neutral():
                break
        # The pilot gets a coarser lattice: detection must survive more than payload recovery does.
        self._steps = np.where(self._pilot, pilot_step, step)

    def _flat_content_is_neutral(self) -> bool:
        """Flat or nearly flat pictures project to ~0 in every cell, so they all read the dithers
        themselves: for a fixed key they share one pilot statistic and one decoded payload.  Keep
        only layouts where that statistic is near 0 and that payload fails its CRC."""
        t = np.cos(2 * np.pi * self._dither)
        tp = t[self._pilot]
        flat_payload = bits_to_payload(viterbi_decode(self._bit_soft(-t[self._code_cells]), self.generators))
        return abs(float(tp.sum())) / math.sqrt(float((tp**2).sum())) < 0.25 and not payload_is_valid(flat_payload)

    def _bit_soft(self, cell_soft: np.ndarray) -> np.ndarray:
        """Soft value per code bit: the sum over the cells that repeat it."""
        return np.bincount(self._code_of_cell, weights=cell_soft, minlength=self._n_code)

    def __repr__(self) -> str:
        return f"SkysealWatermarker(step={self.step}, working_size={self.size}, threshold={self.threshold})"

    # --- working-size luma and band coefficients ----------------------------------------------
    def _work_luma(self, frames: np.ndarray) -> np.ndarray:
        out = np.empty((len(frames), self.size, self.size), dtype=np.float32)
        h, w = frames.shape[1:3]
        for i, frame in enumerate(frames):
            y = cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY)
            # Halve with a Gaussian pyramid while both sides stay >= 4N (fast at 1080p), resample to
            # 2N, and always end with one Gaussian halving: whatever filter a resized copy went
            # through, its last step here is the same low-pass, so it measures like the original.
            while min(y.shape) >= 4 * self.size:
                y = cv2.pyrDown(y)
            if y.shape != (2 * self.size, 2 * self.size):
                up = min(y.shape) < 2 * self.size
                y = cv2.resize(y, (2 * self.size, 2 * self.size), interpolation=cv2.INTER_LINEAR if up else cv2.INTER_AREA)
            out[i] = cv2.pyrDown(y)
        return out

    def _pixels_by_block(self, y: np.ndarray) -> np.ndarray:
        f, nb = len(y), self._nb
        return y.reshape(f, nb, 8, nb, 8).transpose(0, 1, 3, 2, 4).reshape(f, nb * nb, 64)

    def _slots(self, y: np.ndarray) -> np.ndarray:
        """Band coefficients of F x N x N luma as F x slots (slot = block * band + coefficient)."""
        return (self._pixels_by_block(y) @ self._basis).reshape(len(y), -1)

    def _from_slots(self, slots: np.ndarray) -> np.ndarray:
        """The inverse of _slots on the band: F x slots -> F x N x N luma pattern."""
        f, nb, n = len(slots), self._nb, self.size
        blocks = slots.reshape(f, nb * nb, -1) @ self._basis.T
        return blocks.reshape(f, nb, nb, 8, 8).transpose(0, 1, 3, 2, 4).reshape(f, n, n)

    def _projections(self, y: np.ndarray) -> np.ndarray:
        """Each cell's normalised chip projection, F x cells."""
        slots = self._slots(y)
        return (slots[:, self._cell_slots] * self._chips).sum(-1) / math.sqrt(self._chips.shape[1])

    # --- embedding ----------------------------------------------------------------------------
    def embed(self, frames: np.ndarray, payload_hex: str) -> np.ndarray:
        frames = np.asarray(frames)
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or len(frames) == 0:
            raise ProvenanceError(f"expected uint8 frames of shape T x H x W x 3, got {frames.dtype} {frames.shape}")
        if min(frames.shape[1:3]) < 64:
            raise ProvenanceError(f"{self.algorithm} needs frames of at least 64x64 pixels, got {frames.shape[2]}x{frames.shape[1]}")
        if not payload_is_valid(payload_hex):
            raise ProvenanceError("watermark payload must be 16 hex digits with a valid CRC")
        if self._public_key:
            _warn_public_key()
        bits = payload_to_codeword(payload_hex, self.generators)
        offset = self._dither + 0.5 * np.where(self._code_bit >= 0, bits[np.maximum(self._code_bit, 0)], 0)
        out = frames.copy()  # marked in place, frame by frame
        batch = 16  # bounds memory at 1080p while keeping the work vectorised
        for start in range(0, len(frames), batch):
            self._embed_batch(out[start : start + batch], offset)
        return out

    def _residuals(self, y: np.ndarray, target: np.ndarray) -> np.ndarray:
        """The working-size luma change (F x N x N) that moves every cell's projection to ``target``."""
        f, n = len(y), math.sqrt(self._chips.shape[1])
        # Moving along the cell's own chip vector is the least change that reaches the target.
        delta = np.zeros((f, self._cell_slots.size), dtype=np.float32)
        delta[:, self._cell_slots] = ((target - self._projections(y)) / n)[..., None] * self._chips
        return self._from_slots(delta)

    def _add(self, out: np.ndarray, residual: np.ndarray, frames: np.ndarray | None = None) -> None:
        t, h, w, _ = out.shape
        # Sixteenths of a grey level: the upsampling runs on int16 and rounds once at the end.
        residual = np.rint(residual * 16).astype(np.int16)
        for i in range(t) if frames is None else frames:
            r = residual[i] if (h, w) == (self.size, self.size) else cv2.resize(residual[i], (w, h), interpolation=cv2.INTER_LINEAR)
            r = np.right_shift(r + np.int16(8), 4)
            # The same change on R, G and B is a luma-only change; cv2.add saturates to 0..255.
            cv2.add(out[i], cv2.merge([r, r, r]), dst=out[i], dtype=cv2.CV_8U)

    def _embed_batch(self, out: np.ndarray, offset: np.ndarray) -> None:
        y = self._work_luma(out)
        h = self._projections(y)
        target = self._steps * (np.round(h / self._steps - offset) + offset)
        self._add(out, self._residuals(y, target))
        # Where channels saturate (bright or very colourful pictures) the change reaches luma only
        # in part: measure what the frame now holds and top it up once where that cost real accuracy.
        y = self._work_luma(out)
        miss = np.sqrt((((self._projections(y) - target) / self._steps) ** 2).mean(axis=1))
        redo = np.flatnonzero(miss > 0.04)
        if len(redo):
            residual = np.zeros_like(y)
            residual[redo] = self._residuals(y[redo], target[redo])
            self._add(out, residual, redo)

    # --- detection ----------------------------------------------------------------------------
    def _crop_view(self, y: np.ndarray, c: float) -> tuple[np.ndarray, np.ndarray]:
        """Map working luma (F x N x N) back onto the original grid if it were a centre crop at scale c.

        Returns the view and which cells lie wholly inside the picture.
        """
        n = self.size
        if c == 1.0:
            return y, np.ones(len(self._cell_slots), dtype=bool)
        lo, hi = n * (1 - c) / 2, n * (1 + c) / 2
        # Inverse map: original-grid pixel X reads the observed picture at (X + .5 - lo) / c - .5.
        m = np.array([[1 / c, 0, (0.5 - lo) / c - 0.5], [0, 1 / c, (0.5 - lo) / c - 0.5]])
        view = np.stack([cv2.warpAffine(f, m, (n, n), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                        borderMode=cv2.BORDER_REPLICATE) for f in y])
        edges = np.arange(self._nb) * 8
        inside = (edges >= lo - 1e-6) & (edges + 8 <= hi + 1e-6)
        block_ok = (inside[:, None] & inside[None, :]).reshape(-1)
        return view, block_ok[self._slot_block[self._cell_slots]].all(axis=1)

    def analyse(self, frames: np.ndarray) -> SkysealAnalysis:
        frames = np.asarray(frames)
        if frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) == 0 or min(frames.shape[1:3]) < 16:
            return SkysealAnalysis(False, None, "", 1.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0, 0.5)
        idx = np.unique(np.linspace(0, len(frames) - 1, min(len(frames), self.max_frames)).round().astype(int))
        y = self._work_luma(frames[idx])
        n_frames = len(y)
        pilot = self._pilot
        best_z, best, primary_z = -np.inf, None, 0.0
        for c in self.scales:
            view, ok = self._crop_view(y, float(c))
            h = self._projections(view)  # frames x cells
            # Soft value per gain, frame and cell: +1 on the lattice, -1 half a step off, 0 if cut off.
            t = np.cos(2 * np.pi * (h[None] / (self.gains[:, None, None] * self._steps) - self._dither)) * ok
            tp = t[:, :, pilot]
            # Candidates: all frames pooled, and the first frame alone.  A re-encode keeps the mark
            # best in intra frames (predicted frames carry motion-shifted copies of it), and the
            # first decoded frame of any H.264 stream is intra.
            cand = np.concatenate([tp.mean(axis=1, keepdims=True), tp[:, :1]], axis=1) if n_frames > 1 else tp
            z = cand.sum(-1) / np.sqrt((cand**2).sum(-1) + 1e-12)  # gains x candidates
            gi, ci = np.unravel_index(int(np.argmax(z)), z.shape)
            if z[gi, ci] > best_z:
                best_z, best = float(z[gi, ci]), (float(c), float(self.gains[gi]), t[gi])
            if c == 1.0:
                primary_z = float(z[self._primary].max())
        scale, gain, t = best
        # Weighted Bonferroni: half the false-positive budget for the few "untouched geometry"
        # hypotheses (no crop, gain near 1: plain re-encodes, the common case), half for the search.
        n_candidates = 2 if n_frames > 1 else 1
        n_primary = int(self._primary.sum()) * n_candidates
        n_tests = len(self.scales) * len(self.gains) * n_candidates
        p_pilot = min(1.0, 2 * math.exp(math.log(n_primary) + _log_tail(primary_z)),
                      2 * math.exp(math.log(n_tests) + _log_tail(best_z)))

        # Payload: frames weighted by signal over noise of their own pilot cells (mean / variance
        # of t), so an intra frame that kept the mark outweighs many predicted frames that mostly
        # did not.  The weights depend only on pilot cells, independent of the code cells, so the
        # payload test's null distribution holds.
        tp = t[:, pilot]
        mean = tp.mean(1)
        weights = np.maximum(mean, 0) / np.maximum(tp.var(1), 0.02)
        if not np.any(weights > 0):
            weights = np.ones(n_frames)
        soft = -(weights[:, None] * t[:, self._code_cells]).sum(0)  # per code cell; positive = coded bit 1
        bits = viterbi_decode(self._bit_soft(soft), self.generators)
        decoded = bits_to_payload(bits)
        x = (2.0 * conv_encode(bits, self.generators) - 1.0)[self._code_of_cell]
        z_payload = float((soft * x).sum() / math.sqrt(float((soft**2).sum()) + 1e-12))
        crc_ok = payload_is_valid(decoded)
        # Union bound over every CRC-valid payload and over the crop/gain hypotheses.
        log_k = math.log(len(self.scales) * len(self.gains))
        p_payload = min(1.0, math.exp(ID_BITS * math.log(2) + log_k + _log_tail(z_payload))) if crc_ok else 1.0
        p_value = min(1.0, 2 * min(p_pilot, p_payload))
        pooled = (weights[:, None] * tp).sum(0)
        return SkysealAnalysis(
            found=p_value <= self.threshold,
            payload=decoded if (crc_ok and p_value <= self.threshold) else None,
            decoded=decoded, p_value=p_value, p_pilot=p_pilot, p_payload=p_payload, z_pilot=best_z, z_payload=z_payload,
            scale=scale, gain=gain, frames_checked=n_frames, pilot_agreement=float((pooled > 0).mean()),
            per_frame_agreement=(tp > 0).mean(axis=1).tolist(),
        )

    def pilot_z(self, frames: np.ndarray, *, gain: float = 1.0) -> float:
        """The pooled pilot statistic Z at one fixed hypothesis (no crop, ``gain``).

        Under "no watermark" ``P(Z >= z) <= null_tail(z)``; the benchmark and tests check this
        on unmarked clips.
        """
        y = self._work_luma(np.asarray(frames)[: self.max_frames])
        t = np.cos(2 * np.pi * (self._projections(y) / (gain * self._steps) - self._dither))[:, self._pilot].mean(0)
        return float(t.sum() / math.sqrt(float((t**2).sum()) + 1e-12))

    def detect(self, frames: np.ndarray) -> WatermarkResult:
        a = self.analyse(frames)
        return WatermarkResult(
            found=a.found, payload=a.payload, confidence=a.pilot_agreement, p_value=a.p_value, algorithm=self.algorithm,
            frames_checked=a.frames_checked, per_frame_agreement=a.per_frame_agreement, raw_payload=a.decoded or None,
        )
