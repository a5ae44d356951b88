"""Cross-validated tuning, out-of-fold predictions, Platt calibration and risk cut-offs.

Everything here uses only the primary cohort. The external cohorts are scored once,
later.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import xgboost as xgb
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

SEED = 2017
FOLDS = 5
# A fixed thread count keeps the histogram sums, and so the trees, identical run to run.
NTHREAD = 2
MAX_ROUNDS = 1500
EARLY_STOPPING_ROUNDS = 100

BASE_PARAMS: dict[str, Any] = {
    "objective": "binary:logistic",
    "eval_metric": "auc",
    "tree_method": "hist",
    "eta": 0.03,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "nthread": NTHREAD,
    "seed": SEED,
}
GRID: dict[str, list[Any]] = {"max_depth": [2, 3, 4], "min_child_weight": [1, 5]}

# Risk levels are defined by what share of the primary cohort's ICU admissions (out of
# fold) score at or above the cut-off: "moderate" or higher catches 90% of them, "high"
# or higher 60%, "critical" 25%.
LEVEL_SENSITIVITY = {"moderate": 0.90, "high": 0.60, "critical": 0.25}


@dataclass
class TuningResult:
    """Chosen parameters and rounds, the grid's CV scores and out-of-fold margins."""

    params: dict[str, Any]
    rounds: int
    cv_auroc: float
    grid: list[dict[str, Any]]
    oof_margin: np.ndarray


def make_folds(y: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Return the stratified, seeded folds for tuning and out-of-fold scores."""
    splitter = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=SEED)
    return list(splitter.split(np.zeros(len(y)), y))


def tune(
    x: np.ndarray, y: np.ndarray, on_step: Callable[[str], None] = lambda _: None
) -> TuningResult:
    """Pick depth and child weight by mean CV AUROC; early stopping sets the rounds."""
    folds = make_folds(y)
    matrix = xgb.DMatrix(x, label=y)
    grid = []
    for values in itertools.product(*GRID.values()):
        params = {**BASE_PARAMS, **dict(zip(GRID, values, strict=True))}
        history = xgb.cv(
            params,
            matrix,
            num_boost_round=MAX_ROUNDS,
            folds=folds,
            early_stopping_rounds=EARLY_STOPPING_ROUNDS,
            seed=SEED,
            as_pandas=False,
        )
        scores = history["test-auc-mean"]
        grid.append(
            {
                **dict(zip(GRID, values, strict=True)),
                "rounds": len(scores),
                "cv_auroc": round(float(scores[-1]), 4),
            }
        )
        on_step(f"max_depth={values[0]} min_child_weight={values[1]}")
    best = max(grid, key=lambda row: row["cv_auroc"])
    params = {**BASE_PARAMS, **{key: best[key] for key in GRID}}
    oof = np.zeros(len(y))
    for train_index, test_index in folds:
        booster = xgb.train(
            params,
            xgb.DMatrix(x[train_index], label=y[train_index]),
            num_boost_round=best["rounds"],
        )
        oof[test_index] = booster.predict(
            xgb.DMatrix(x[test_index]), output_margin=True
        )
    return TuningResult(params, best["rounds"], best["cv_auroc"], grid, oof)


def fit_platt(margin: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Fit p = 1 / (1 + exp(-(slope * margin + intercept))) on out-of-fold margins.

    Platt scaling was chosen over isotonic regression: with about 110 events an isotonic
    step function has few steps, and a monotone two-parameter map keeps the ranking, so
    SHAP directions in margin space stay true for the calibrated probability.
    """
    model = LogisticRegression(C=1e6, solver="lbfgs", max_iter=1000)
    model.fit(margin.reshape(-1, 1), y)
    return {
        "method": "platt",
        "slope": round(float(model.coef_[0, 0]), 6),
        "intercept": round(float(model.intercept_[0]), 6),
    }


def calibrate(margin: np.ndarray, calibration: dict[str, float]) -> np.ndarray:
    """Map raw margins (log-odds) to calibrated probabilities."""
    z = calibration["slope"] * margin + calibration["intercept"]
    return 1.0 / (1.0 + np.exp(-z))


def choose_cutoffs(probability: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Return lower probability bounds per risk level, `low` always 0.

    For each level the cut-off is the largest probability that still flags the share of
    out-of-fold ICU admissions in `LEVEL_SENSITIVITY`. It is rounded down to 4 decimals
    so the share is still flagged after rounding.
    """
    event_scores = np.sort(probability[y == 1])[::-1]
    cutoffs = {"low": 0.0}
    for level, sensitivity in LEVEL_SENSITIVITY.items():
        needed = int(np.ceil(sensitivity * len(event_scores)))
        cutoffs[level] = float(np.floor(event_scores[needed - 1] * 10_000) / 10_000)
    return cutoffs
