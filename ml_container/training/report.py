"""Draw the model card's ROC, calibration and importance plots as stable PNGs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import numpy as np  # noqa: E402
from sklearn.metrics import roc_curve  # noqa: E402

from ml_container.predict.features import FEATURES  # noqa: E402

# Without a Software entry and with no date field, Agg writes the same PNG bytes each
# run.
PNG_METADATA: dict[str, Any] = {"Software": None}
DPI = 100
COMPARATOR_LABELS = {"news2": "NEWS2 (same vitals)", "triage": "nurse triage"}


def _save(figure: plt.Figure, path: Path) -> None:
    figure.tight_layout()
    figure.savefig(path, format="png", dpi=DPI, metadata=PNG_METADATA)
    plt.close(figure)


def plot_roc(path: Path, panels: list[dict[str, Any]]) -> None:
    """Plot one ROC panel per external set: the model against each comparator.

    Each panel contains `title`, `y`, `model` (probabilities) and `comparators` (name ->
    score, NaN where unknown).
    """
    figure, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4.6))
    for axis, panel in zip(np.atleast_1d(axes), panels, strict=True):
        y = panel["y"]
        curves = {"XGBoost model": panel["model"]}
        curves.update(
            {COMPARATOR_LABELS[k]: v for k, v in panel["comparators"].items()}
        )
        for label, score in curves.items():
            known = ~np.isnan(score)
            fpr, tpr, _ = roc_curve(y[known], score[known])
            axis.plot(fpr, tpr, label=label)
        axis.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
        axis.set_title(panel["title"], fontsize=10)
        axis.set_xlabel("1 - specificity")
        axis.set_ylabel("sensitivity")
        axis.legend(loc="lower right", fontsize=8)
    _save(figure, path)


def plot_calibration(path: Path, curves: dict[str, list[dict[str, float]]]) -> None:
    """Plot observed against predicted risk per equal-count bin for each cohort."""
    figure, axis = plt.subplots(figsize=(5.2, 4.6))
    highest = 0.0
    for label, points in curves.items():
        predicted = [point["predicted"] for point in points]
        observed = [point["observed"] for point in points]
        highest = max(highest, *predicted, *observed)
        axis.plot(predicted, observed, marker="o", label=label)
    axis.plot([0, highest], [0, highest], color="grey", linestyle=":", linewidth=1)
    axis.set_xlabel("mean predicted probability")
    axis.set_ylabel("observed event rate")
    axis.set_title("Calibration (10 equal-count bins)", fontsize=10)
    axis.legend(fontsize=8)
    _save(figure, path)


def plot_importance(path: Path, mean_abs_shap: np.ndarray) -> None:
    """Plot mean absolute SHAP value (log-odds) per input on the training cohort."""
    order = np.argsort(mean_abs_shap)
    figure, axis = plt.subplots(figsize=(5.2, 3.4))
    labels = [FEATURES[i].label for i in order]
    axis.barh(labels, mean_abs_shap[order], color="#4472c4")
    axis.set_xlabel("mean |SHAP contribution| (log-odds)")
    axis.set_title("Feature importance, Danish 2010 cohort", fontsize=10)
    _save(figure, path)
