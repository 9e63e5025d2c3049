"""Bias audits: demographic prompt suites through the whole road, with confidence intervals."""

from .stats import RateEstimate, wilson_interval
from .suites import AuditPrompt, Suite, load_suite

__all__ = ["AuditPrompt", "RateEstimate", "Suite", "load_suite", "wilson_interval"]
