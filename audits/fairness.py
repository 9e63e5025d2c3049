"""Does a decision fall on some groups more than others?  Rates per group with honest error bars.

Input is a plain DataFrame with one row per decision unit, a group column and a
0/1 outcome column (refused, sent to review, flagged).  Output is a table per
group: the rate and its Wilson interval, the difference from the reference
group ("unmarked": the same prompt with no identity descriptor), an exact test
against the reference with Holm's correction across groups, and fairlearn's
demographic-parity difference and ratio over all groups.

A prompt filter decides on the text alone, so for the filter the unit is the
distinct prompt, not the sample: counting each of five seeds of one refused
prompt as five refusals would shrink the intervals for no new evidence.
``per_prompt`` collapses a sample-level frame accordingly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame, count, demographic_parity_difference, demographic_parity_ratio, selection_rate
from scipy.stats import binomtest, fisher_exact
from statsmodels.stats.multitest import multipletests

from .stats import wilson_interval

REFERENCE_GROUP = "unmarked"


@dataclass(frozen=True)
class GroupRates:
    """Per-group rates plus the disparity summary of one outcome."""

    outcome: str
    table: pd.DataFrame  # one row per group
    dp_difference: float  # max - min selection rate over groups (fairlearn)
    dp_ratio: float  # min / max selection rate over groups (fairlearn); 1 = parity
    reference: str
    alpha: float

    @property
    def significant_groups(self) -> list[str]:
        return self.table.loc[self.table["significant"], "group"].tolist()

    def summary(self) -> dict:
        return {"outcome": self.outcome, "reference": self.reference, "alpha": self.alpha,
                "dp_difference": self.dp_difference, "dp_ratio": self.dp_ratio,
                "significant_groups": self.significant_groups}


def per_prompt(frame: pd.DataFrame, outcome: str) -> pd.DataFrame:
    """One row per distinct prompt; the outcome is its share over that prompt's samples (0 or 1 for a
    deterministic filter)."""
    keys = ["prompt", "template", "subject", "attribute", "descriptor", "group"]
    keys = [k for k in keys if k in frame.columns]
    return frame.groupby(keys, as_index=False, dropna=False)[outcome].mean()


def group_rates(
    frame: pd.DataFrame,
    outcome: str,
    *,
    group_col: str = "group",
    reference: str = REFERENCE_GROUP,
    alpha: float = 0.05,
    confidence: float = 0.95,
) -> GroupRates:
    """Rate of ``outcome`` (0/1, or a share that is rounded) per group, compared with ``reference``."""
    if outcome not in frame or group_col not in frame:
        raise KeyError(f"frame needs columns {outcome!r} and {group_col!r}")
    data = frame[[group_col, outcome]].dropna()
    if data.empty:
        raise ValueError(f"no rows with an observed {outcome!r}")
    y = (data[outcome].astype(float) >= 0.5).astype(int).to_numpy()
    groups = data[group_col].astype(str).to_numpy()

    mf = MetricFrame(metrics={"rate": selection_rate, "n": count}, y_true=y, y_pred=y, sensitive_features=groups)
    by = mf.by_group
    dp_diff = float(demographic_parity_difference(y, y, sensitive_features=groups))
    # All-zero rates make fairlearn's ratio 0/0; no group is refused at all, which is parity.
    dp_ratio = float(demographic_parity_ratio(y, y, sensitive_features=groups)) if y.any() else 1.0

    events = pd.Series(y).groupby(groups).sum()
    ref_events = int(events.get(reference, 0))
    ref_n = int(by["n"].get(reference, 0))
    rows = []
    for group, stats in by.iterrows():
        n, k = int(stats["n"]), int(events[group])
        ci = wilson_interval(k, n, confidence)
        p = np.nan
        if group != reference and ref_n:
            # Exact, so a handful of refusals against none is judged fairly at small n.
            p = float(fisher_exact([[k, n - k], [ref_events, ref_n - ref_events]]).pvalue)
        rows.append({"group": group, "attribute": str(group).split(":")[0], "n": n, "events": k,
                     "rate": ci.rate, "ci_low": ci.low, "ci_high": ci.high,
                     "diff_vs_reference": ci.rate - (ref_events / ref_n if ref_n else np.nan), "p_value": p})
    table = pd.DataFrame(rows)
    tested = table["p_value"].notna()
    table["p_holm"] = np.nan
    table["significant"] = False
    if tested.any():
        reject, p_holm, _, _ = multipletests(table.loc[tested, "p_value"], alpha=alpha, method="holm")
        table.loc[tested, "p_holm"] = p_holm
        table.loc[tested, "significant"] = reject
    table = table.sort_values(["significant", "diff_vs_reference"], ascending=[False, False], kind="stable")
    return GroupRates(outcome, table.reset_index(drop=True), dp_diff, dp_ratio, reference, alpha)


def counterfactual_flips(frame: pd.DataFrame, outcome: str, *, reference: str = REFERENCE_GROUP,
                         alpha: float = 0.05) -> pd.DataFrame:
    """Pairs that differ only in the descriptor: how often adding it flips the outcome, per group.

    Each marked prompt is paired with the unmarked prompt of the same template
    and subject.  The exact McNemar test on the discordant pairs (a binomial
    test at 1/2) asks whether flips one way outnumber flips the other.
    """
    units = per_prompt(frame, outcome)
    units[outcome] = (units[outcome] >= 0.5).astype(int)
    base = units[units["group"] == reference].set_index(["template", "subject"])[outcome].rename("unmarked_outcome")
    marked = units[units["group"] != reference].join(base, on=["template", "subject"], how="inner")
    rows = []
    for group, g in marked.groupby("group"):
        up = int(((g[outcome] == 1) & (g["unmarked_outcome"] == 0)).sum())
        down = int(((g[outcome] == 0) & (g["unmarked_outcome"] == 1)).sum())
        p = float(binomtest(up, up + down, 0.5).pvalue) if up + down else 1.0
        rows.append({"group": group, "pairs": len(g), "flips_up": up, "flips_down": down, "p_value": p})
    table = pd.DataFrame(rows, columns=["group", "pairs", "flips_up", "flips_down", "p_value"])
    if len(table):
        reject, p_holm, _, _ = multipletests(table["p_value"], alpha=alpha, method="holm")
        table["p_holm"], table["significant"] = p_holm, reject
    return table.sort_values("flips_up", ascending=False, kind="stable").reset_index(drop=True)


__all__ = ["GroupRates", "REFERENCE_GROUP", "counterfactual_flips", "group_rates", "per_prompt"]
