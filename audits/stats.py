"""Rates with honest error bars."""

from __future__ import annotations

from dataclasses import dataclass

from statsmodels.stats.proportion import proportion_confint


@dataclass(frozen=True)
class RateEstimate:
    successes: int
    trials: int
    rate: float
    low: float
    high: float


def wilson_interval(successes: int, trials: int, confidence: float = 0.95) -> RateEstimate:
    """Wilson score interval for a binomial proportion (sane at 0 and n, unlike Wald)."""
    if trials <= 0:
        raise ValueError("need at least one trial")
    if not 0 <= successes <= trials:
        raise ValueError("successes must be between 0 and trials")
    low, high = proportion_confint(successes, trials, alpha=1 - confidence, method="wilson")
    return RateEstimate(successes, trials, successes / trials, max(0.0, float(low)), min(1.0, float(high)))
