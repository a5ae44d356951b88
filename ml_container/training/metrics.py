"""Discrimination and calibration metrics with seeded bootstrap confidence intervals."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import rankdata
from sklearn.metrics import average_precision_score

BOOTSTRAP_SAMPLES = 1000


def auroc(y: np.ndarray, score: np.ndarray) -> float:
    """Return the area under the ROC curve (Mann-Whitney form, ties count one half)."""
    positives = int(y.sum())
    negatives = len(y) - positives
    if positives == 0 or negatives == 0:
        return float("nan")
    ranks = rankdata(score)
    return float(
        (ranks[y == 1].sum() - positives * (positives + 1) / 2)
        / (positives * negatives)
    )


def auroc_with_ci(
    y: np.ndarray, score: np.ndarray, rng: np.random.Generator
) -> dict[str, float]:
    """Return AUROC with a percentile bootstrap 95% CI over resampled patients."""
    point = auroc(y, score)
    n = len(y)
    samples = []
    for _ in range(BOOTSTRAP_SAMPLES):
        index = rng.integers(0, n, n)
        value = auroc(y[index], score[index])
        if not np.isnan(value):
            samples.append(value)
    low, high = np.percentile(samples, [2.5, 97.5])
    return {
        "auroc": round(point, 4),
        "ci_low": round(low, 4),
        "ci_high": round(high, 4),
    }


def reliability_curve(
    y: np.ndarray, probability: np.ndarray, bins: int = 10
) -> list[dict[str, float]]:
    """Return mean predicted and observed risk in equal-count bins of predicted risk."""
    order = np.argsort(probability, kind="stable")
    points = []
    for chunk in np.array_split(order, bins):
        if len(chunk) == 0:
            continue
        points.append(
            {
                "predicted": round(float(probability[chunk].mean()), 5),
                "observed": round(float(y[chunk].mean()), 5),
                "n": int(len(chunk)),
            }
        )
    return points


def threshold_table(
    y: np.ndarray, probability: np.ndarray, cutoffs: dict[str, float]
) -> dict[str, dict[str, float]]:
    """Return sensitivity, specificity and PPV of "p >= cut-off" per risk level."""
    table = {}
    for level, cutoff in cutoffs.items():
        if cutoff <= 0:
            continue
        flagged = probability >= cutoff
        true_positive = int((flagged & (y == 1)).sum())
        positives = int(y.sum())
        negatives = len(y) - positives
        table[level] = {
            "cutoff": cutoff,
            "flagged": int(flagged.sum()),
            "sensitivity": round(true_positive / positives, 4) if positives else None,
            "specificity": round(int((~flagged & (y == 0)).sum()) / negatives, 4),
            "ppv": round(true_positive / int(flagged.sum()), 4)
            if flagged.any()
            else None,
        }
    return table


def evaluate_scores(
    y: np.ndarray,
    model_probability: np.ndarray,
    comparators: dict[str, np.ndarray],
    cutoffs: dict[str, float],
    seed: int,
) -> dict[str, Any]:
    """Evaluate the model and each comparator on one outcome.

    Comparators are scored on the rows where they are known; their `n` gives how many.
    """
    rng = np.random.default_rng(seed)
    result: dict[str, Any] = {
        "n": int(len(y)),
        "events": int(y.sum()),
        "model": {
            **auroc_with_ci(y, model_probability, rng),
            "auprc": round(float(average_precision_score(y, model_probability)), 4),
            "brier": round(float(np.mean((model_probability - y) ** 2)), 5),
            "reliability": reliability_curve(y, model_probability),
            "cutoffs": threshold_table(y, model_probability, cutoffs),
        },
    }
    for name, score in comparators.items():
        known = ~np.isnan(score)
        result[name] = {
            "n": int(known.sum()),
            **auroc_with_ci(y[known], score[known], rng),
            "auprc": round(float(average_precision_score(y[known], score[known])), 4),
        }
    return result
