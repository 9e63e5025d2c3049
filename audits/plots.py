"""The audit figures, from the plain tables of ``fairness`` and ``representation``.

Each function returns a matplotlib Figure and never calls ``show``: notebooks
display it, scripts save it.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.patches import Patch

from .skin_tone import MONK_SWATCHES_HEX

SIGNIFICANT, NEUTRAL, REFERENCE = "#c0392b", "#7f8c8d", "#2c3e50"


def group_rate_figure(table: pd.DataFrame, *, title: str, reference: str = "unmarked", xlabel: str = "rate") -> plt.Figure:
    """Rate per group with its Wilson interval; groups that differ from the reference after Holm in red."""
    t = table.sort_values("rate", kind="stable")
    fig, ax = plt.subplots(figsize=(7.5, 0.28 * len(t) + 1.4))
    y = np.arange(len(t))
    colours = [REFERENCE if g == reference else (SIGNIFICANT if s else NEUTRAL) for g, s in zip(t["group"], t["significant"])]
    err = np.vstack([t["rate"] - t["ci_low"], t["ci_high"] - t["rate"]]).clip(min=0)
    ax.errorbar(t["rate"], y, xerr=err, fmt="none", ecolor="#95a5a6", capsize=2, lw=1)
    ax.scatter(t["rate"], y, c=colours, zorder=3, s=22)
    ref = table.loc[table["group"] == reference, "rate"]
    if len(ref):
        ax.axvline(float(ref.iloc[0]), color=REFERENCE, ls="--", lw=0.8)
    ax.set_yticks(y, t["group"], fontsize=8)
    ax.set_xlim(-0.02, 1.02)
    ax.set_xlabel(f"{xlabel} (95% Wilson interval)")
    ax.set_title(title, fontsize=10, loc="left")
    ax.legend(handles=[Patch(color=SIGNIFICANT, label="differs from unmarked (Holm)"), Patch(color=NEUTRAL, label="no evidence of a difference"),
                       Patch(color=REFERENCE, label=reference)], fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def mean_tone_figure(table: pd.DataFrame) -> plt.Figure:
    """Measured mean Monk tone per role with its bootstrap interval, against the reference and parity."""
    t = table.dropna(subset=["measured_mean"]).reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(7.5, 0.42 * len(t) + 1.4))
    y = np.arange(len(t))
    err = np.vstack([t["measured_mean"] - t["measured_low"], t["measured_high"] - t["measured_mean"]]).clip(min=0)
    ax.errorbar(t["measured_mean"], y, xerr=err, fmt="o", color=REFERENCE, capsize=3, label="measured (95% bootstrap)")
    if "reference_mean" in t:
        ax.scatter(t["reference_mean"], y, marker="D", color=SIGNIFICANT, zorder=3, label="planted / reference")
    ax.axvline(5.5, color=NEUTRAL, ls="--", lw=0.8, label="parity (5.5)")
    ax.set_yticks(y, t["role"])
    ax.set_xlim(0.5, 10.5)
    ax.set_xticks(range(1, 11))
    ax.set_xlabel("mean Monk skin tone (1 lightest .. 10 darkest)")
    ax.set_title("Unspecified skin tone: who the generator draws, per role", fontsize=10, loc="left")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def distribution_figure(table: pd.DataFrame, reference: dict | None = None) -> plt.Figure:
    """Measured share of each Monk swatch per role (bars in the swatch colour), reference as a step line."""
    t = table.dropna(subset=["measured_mean"]).reset_index(drop=True)
    cols = 4
    rows = int(np.ceil(len(t) / cols)) or 1
    fig, axes = plt.subplots(rows, cols, figsize=(10, 2.2 * rows), sharey=True, squeeze=False)
    x = np.arange(1, 11)
    for ax in axes.flat[len(t):]:
        ax.set_axis_off()
    for ax, (_, row) in zip(axes.flat, t.iterrows()):
        ax.bar(x, row["distribution"], color=MONK_SWATCHES_HEX, edgecolor="#555", lw=0.4)
        if reference and row["role"] in reference:
            ref = np.asarray(reference[row["role"]], dtype=float)
            ax.step(x, ref / ref.sum(), where="mid", color=SIGNIFICANT, lw=1.2)
        ax.axhline(0.1, color=NEUTRAL, ls=":", lw=0.8)
        ax.set_title(f"{row['role']} (n={int(row['n'])})", fontsize=8)
        ax.set_xticks(x)
        ax.tick_params(labelsize=6)
    fig.suptitle("Measured Monk distribution per role; red: planted/reference, dotted: parity", fontsize=9)
    fig.tight_layout()
    return fig


def distance_figure(table: pd.DataFrame, metric: str = "tv") -> plt.Figure:
    """Distance of each role from parity and from the reference, with bootstrap intervals."""
    t = table.dropna(subset=["measured_mean"]).reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(7.5, 0.42 * len(t) + 1.4))
    y = np.arange(len(t))
    for offset, name, colour in ((-0.15, "parity", NEUTRAL), (0.15, "reference", SIGNIFICANT)):
        col = f"{metric}_{name}"
        if col not in t:
            continue
        err = np.vstack([t[col] - t[f"{col}_low"], t[f"{col}_high"] - t[col]]).clip(min=0)
        ax.errorbar(t[col], y + offset, xerr=err, fmt="o", color=colour, capsize=2, label=f"from {name}")
    ax.set_yticks(y, t["role"])
    ax.set_xlabel({"tv": "total variation distance (0..1)", "emd": "Wasserstein distance (swatches)"}[metric] + ", 95% bootstrap")
    ax.set_title("How far each role's distribution lies from parity and from the reference", fontsize=10, loc="left")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def tone_confusion_figure(frame: pd.DataFrame, truth: str = "drawn_monk", measured: str = "monk") -> plt.Figure:
    """Measured vs drawn swatch (the instrument check, where the generator reports what it drew)."""
    data = frame[[truth, measured]].dropna().astype(int)
    matrix = pd.crosstab(data[truth], data[measured]).reindex(index=range(1, 11), columns=range(1, 11), fill_value=0)
    fig, ax = plt.subplots(figsize=(4.6, 4))
    im = ax.imshow(matrix.to_numpy(), cmap="Greys")
    ax.set_xticks(range(10), range(1, 11))
    ax.set_yticks(range(10), range(1, 11))
    ax.set_xlabel("measured Monk swatch")
    ax.set_ylabel("drawn Monk swatch")
    acc = float((data[truth] == data[measured]).mean()) if len(data) else float("nan")
    ax.set_title(f"Skin-tone instrument: {acc:.1%} exact (n={len(data)})", fontsize=9)
    fig.colorbar(im, ax=ax, shrink=0.8)
    fig.tight_layout()
    return fig


def descriptor_tone_figure(frame: pd.DataFrame, attribute: str = "skin_tone") -> plt.Figure:
    """Measured tone by skin-tone descriptor: does "dark-skinned" come out dark?"""
    data = frame[(frame["attribute"].isin([attribute, "unmarked"])) & frame["monk"].notna()]
    shares = pd.crosstab(data["group"], data["monk"].astype(int), normalize="index").reindex(columns=range(1, 11), fill_value=0)
    fig, ax = plt.subplots(figsize=(7.5, 0.4 * len(shares) + 1.2))
    left = np.zeros(len(shares))
    for swatch in range(1, 11):
        ax.barh(shares.index, shares[swatch], left=left, color=MONK_SWATCHES_HEX[swatch - 1], edgecolor="#555", lw=0.3)
        left += shares[swatch].to_numpy()
    ax.set_xlabel("share of clips by measured Monk swatch")
    ax.set_title("Measured skin tone by descriptor in the prompt", fontsize=10, loc="left")
    fig.tight_layout()
    return fig


__all__ = ["descriptor_tone_figure", "distance_figure", "distribution_figure", "group_rate_figure", "mean_tone_figure",
           "tone_confusion_figure"]
