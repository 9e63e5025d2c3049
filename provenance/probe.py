"""A passive "generated vs camera" probe: a scikit-learn classifier on frame embeddings.

The embedding is a fixed, hand-built description of a frame's image
statistics: sensor-like noise in the high-pass residual, the gradient and
radial-spectrum distribution, flat-area share, saturation and colour count.
No pretrained network is involved (none can be downloaded here), so the probe
learns what separates *these* generators from photographs; it is trained and
its ROC AUC measured by ``python -m skyseal.train_probe``.

A probe score is supporting context only.  It is never the evidence for a
"generated here" verdict: that needs a provenance signal (manifest, keyed
watermark, ledger) that a probe cannot provide.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

EMBED_SIZE = 256  # frames are described at this size so the embedding does not depend on resolution
_BANDS = 8


def frame_embedding(frame: np.ndarray) -> np.ndarray:
    """A 32-number description of one RGB uint8 frame."""
    import cv2

    img = cv2.resize(frame, (EMBED_SIZE, EMBED_SIZE), interpolation=cv2.INTER_AREA).astype(np.float32)
    luma = img @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    residual = luma - cv2.blur(luma, (3, 3))
    r_std = residual.std() + 1e-6
    r_kurt = float(((residual - residual.mean()) ** 4).mean() / r_std**4)
    flat = float((np.abs(residual) < 0.5).mean())

    gx, gy = cv2.Sobel(luma, cv2.CV_32F, 1, 0), cv2.Sobel(luma, cv2.CV_32F, 0, 1)
    grad = np.hypot(gx, gy)
    g_hist = np.histogram(np.log1p(grad), bins=_BANDS, range=(0, 7))[0] / grad.size

    spectrum = np.abs(np.fft.fftshift(np.fft.fft2(luma - luma.mean()))) ** 2
    yy, xx = np.indices(spectrum.shape)
    radius = np.hypot(yy - EMBED_SIZE / 2, xx - EMBED_SIZE / 2) / (EMBED_SIZE / 2)
    band = np.minimum((radius * _BANDS).astype(int), _BANDS - 1)
    power = np.bincount(band.ravel(), spectrum.ravel(), minlength=_BANDS)
    power = np.log10(power / power.sum() + 1e-12)

    hsv = cv2.cvtColor(img.astype(np.uint8), cv2.COLOR_RGB2HSV)
    s_hist = np.histogram(hsv[..., 1], bins=_BANDS, range=(0, 256))[0] / hsv[..., 1].size
    v_hist = np.histogram(hsv[..., 2], bins=_BANDS, range=(0, 256))[0] / hsv[..., 2].size
    small = cv2.resize(img.astype(np.uint8), (64, 64), interpolation=cv2.INTER_AREA) // 8
    colours = np.log(len(np.unique(small.reshape(-1, 3), axis=0)))
    local_var = cv2.blur(luma**2, (7, 7)) - cv2.blur(luma, (7, 7)) ** 2
    flat_area = float((local_var < 4.0).mean())
    return np.concatenate([[np.log(r_std), r_kurt, flat, flat_area, colours, np.log1p(grad.mean())],
                           g_hist, power, s_hist, v_hist[:2]]).astype(np.float32)


def embed_frames(frames: np.ndarray) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.ndim == 3:
        frames = frames[None]
    return np.stack([frame_embedding(f) for f in frames])


class FrameProbe(ClassifierMixin, BaseEstimator):
    """Logistic regression on frame embeddings; class 1 = generated, 0 = camera.

    ``fit``/``predict``/``predict_proba`` take frames (N x H x W x 3 uint8),
    one prediction per frame; average a clip's frames for a clip score.
    """

    def __init__(self, C: float = 1.0) -> None:
        self.C = C

    def fit(self, frames: np.ndarray, y: np.ndarray) -> "FrameProbe":
        X = embed_frames(frames)
        self.model_ = make_pipeline(StandardScaler(), LogisticRegression(C=self.C, max_iter=2000))
        self.model_.fit(X, np.asarray(y))
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, frames: np.ndarray) -> np.ndarray:
        return self.model_.predict_proba(embed_frames(frames))

    def predict(self, frames: np.ndarray) -> np.ndarray:
        return self.classes_[self.predict_proba(frames).argmax(axis=1)]

    def save(self, path: str | Path) -> None:
        import joblib

        joblib.dump(self, path)

    @staticmethod
    def load(path: str | Path) -> "FrameProbe":
        """Load a probe saved by :meth:`save` (a pickle: load only files you wrote yourself)."""
        import joblib

        probe = joblib.load(path)
        if not isinstance(probe, FrameProbe):
            raise TypeError(f"{path} does not hold a FrameProbe")
        return probe


__all__ = ["FrameProbe", "embed_frames", "frame_embedding"]
