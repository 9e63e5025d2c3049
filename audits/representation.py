"""Who appears when the prompt does not say: Monk skin-tone distributions per role, against parity and a reference.

Input is a plain DataFrame with one row per generated clip, a role column and
the measured Monk swatch (1..10, NaN where no person was found).  For each role
the table reports the mean tone and the distribution's distance from parity
(uniform over the 10 swatches) and from a reference distribution (for the
bundled generator: the skew planted in its world config, passed in as plain
data), each with a bootstrap interval, plus a Monte Carlo goodness-of-fit test
against each (Holm-corrected across roles).

Two distances, because they answer different questions: total variation (TV,
0..1) is "what share of people would have to change swatch to match", and the
Wasserstein distance (in swatches) is "how far along the scale, on average".
Both are biased upward in small samples (a perfect sampler never shows exactly
zero), which is why the goodness-of-fit p-value, not the distance, decides
whether a role departs from a distribution.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy.stats import bootstrap
from statsmodels.stats.multitest import multipletests

SWATCHES = np.arange(1, 11)
PARITY = np.full(10, 0.1)


def _normalise(p) -> np.ndarray:
    p = np.asarray(p, dtype=np.float64)
    if p.shape != (10,) or (p < 0).any() or p.sum() <= 0:
        raise ValueError("a distribution over Monk swatches needs 10 non-negative weights")
    return p / p.sum()


def distribution(values) -> np.ndarray:
    """Share of each Monk swatch 1..10 among ``values`` (NaN dropped)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[~np.isnan(v)].astype(int)
    return np.bincount(v - 1, minlength=10)[:10] / max(len(v), 1)


def _shares(sample: np.ndarray, axis: int) -> np.ndarray:
    # One-hot over the swatches, averaged along the sample axis: shape (..., 10).
    onehot = sample[..., None] == SWATCHES
    return onehot.mean(axis=axis if axis >= 0 else axis - 1)


def tv_distance(p, q) -> np.ndarray:
    return 0.5 * np.abs(np.asarray(p) - np.asarray(q)).sum(axis=-1)


def wasserstein_swatches(p, q) -> np.ndarray:
    """Earth mover's distance between two distributions on the ordered 1..10 scale, in swatches."""
    return np.abs(np.cumsum(np.asarray(p) - np.asarray(q), axis=-1)).sum(axis=-1)


def _interval(values: np.ndarray, statistic, *, n_resamples: int, confidence: float, rng,
              method: str = "percentile") -> tuple[float, float]:
    if len(values) < 2 or np.all(values == values[0]):
        point = float(statistic(values[None], axis=-1)[0])
        return point, point
    res = bootstrap((values,), statistic, vectorized=True, n_resamples=n_resamples, confidence_level=confidence,
                    method=method, rng=rng)
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def gof_pvalue(values: np.ndarray, reference: np.ndarray, *, n_sim: int = 5000, rng=None) -> float:
    """Monte Carlo p-value of the TV distance under multinomial sampling from ``reference``.

    Exact in the limit of simulations and valid at the small per-role counts
    where a chi-square approximation is not (many expected counts below 5).
    """
    rng = np.random.default_rng(rng)
    n = len(values)
    observed = tv_distance(distribution(values), reference)
    sims = rng.multinomial(n, reference, size=n_sim) / n
    # The +1s count the observed sample as one of the draws, so p is never 0.
    return float((1 + (tv_distance(sims, reference) >= observed - 1e-12).sum()) / (n_sim + 1))


def representation_table(
    frame: pd.DataFrame,
    *,
    reference: Mapping[str, np.ndarray] | None = None,
    role_col: str = "subject",
    tone_col: str = "monk",
    confidence: float = 0.95,
    n_resamples: int = 2000,
    alpha: float = 0.05,
    seed: int = 0,
) -> pd.DataFrame:
    """Per role: measured vs reference mean Monk tone and distances from parity and reference, with intervals."""
    rng = np.random.default_rng(seed)
    rows = []
    for role, group in frame.groupby(role_col, sort=True):
        values = group[tone_col].dropna().to_numpy(dtype=np.float64)
        row: dict = {"role": role, "clips": len(group), "n": len(values)}
        if len(values) == 0:
            rows.append(row)
            continue
        dist = distribution(values)
        lo, hi = _interval(values, lambda s, axis: s.mean(axis=axis), n_resamples=n_resamples,
                           confidence=confidence, rng=rng)
        row.update(measured_mean=float(values.mean()), measured_low=lo, measured_high=hi)
        targets = {"parity": PARITY}
        if reference is not None and role in reference:
            ref = _normalise(reference[role])
            targets["reference"] = ref
            row["reference_mean"] = float((ref * SWATCHES).sum())
            row["reference_in_interval"] = bool(lo <= row["reference_mean"] <= hi)
        for name, target in targets.items():
            for metric, fn in (("tv", tv_distance), ("emd", wasserstein_swatches)):
                stat = (lambda f, t: (lambda s, axis: f(_shares(s, axis), t)))(fn, target)
                # Distances are biased upward and the percentile interval inherits the bias (it can
                # miss its own point estimate); the basic interval reflects it back, floored at 0.
                low, high = _interval(values, stat, n_resamples=n_resamples, confidence=confidence, rng=rng,
                                      method="basic")
                low = max(low, 0.0)
                row[f"{metric}_{name}"] = float(fn(dist, target))
                row[f"{metric}_{name}_low"], row[f"{metric}_{name}_high"] = low, high
            row[f"p_{name}"] = gof_pvalue(values, target, rng=rng)
        row["distribution"] = dist.round(4).tolist()
        rows.append(row)
    table = pd.DataFrame(rows, columns=None if rows else ["role", "clips", "n"])
    for name in ("parity", "reference"):
        col = f"p_{name}"
        if col in table and table[col].notna().any():
            tested = table[col].notna()
            reject, p_holm, _, _ = multipletests(table.loc[tested, col], alpha=alpha, method="holm")
            table.loc[tested, f"{col}_holm"] = p_holm
            table[f"departs_{name}"] = False
            table.loc[tested, f"departs_{name}"] = reject
    return table


__all__ = ["PARITY", "distribution", "gof_pvalue", "representation_table", "tv_distance", "wasserstein_swatches"]
