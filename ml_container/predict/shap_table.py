"""TreeSHAP contributions looked up in a per-tree table, not recomputed per call.

XGBoost's `pred_contribs=True` runs path-dependent TreeSHAP for every row. On the
development machine that took 50 to 100 microseconds per patient in a batch and about
330 for a single patient, several times the prediction itself. For one tree, the
SHAP vector depends on a patient only through the yes/no outcome of each of the tree's
splits, so a depth-3 tree (at most 7 splits) has at most 128 distinct SHAP vectors.
`ml_container.training.shap_table` computes each of them with XGBoost at training time
and stores them in `shap_table.pkl`. This module finds each tree's split outcomes
with a few vectorised comparisons and adds up the stored vectors. The result equals
`Booster.predict(..., pred_contribs=True)` up to float32 rounding; the unit tests
compare the two on real rows and on every split threshold.

Table layout (plain numpy arrays in a dict):

- `features` (trees, slots) int: feature index of each split, slots in node-id order;
- `thresholds` (trees, slots) float32: go left when value < threshold; unused slots are
  +inf, so their bit is always 1;
- `values` (trees, 2**slots, features) float32: SHAP vector per split-outcome pattern;
- `bias`: the expected margin, the last column of `pred_contribs`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np


def split_patterns(
    matrix: np.ndarray, features: np.ndarray, thresholds: np.ndarray
) -> np.ndarray:
    """Return, per row and tree, the integer whose bit j is "split j goes left".

    `matrix` must hold finite values: the table does not model XGBoost's default
    direction for missing values, and the handler rejects missing inputs anyway.
    """
    goes_left = matrix[:, features] < thresholds  # (rows, trees, slots)
    weights = 1 << np.arange(features.shape[1], dtype=np.int64)
    return goes_left @ weights


def contributions(table: Mapping[str, Any], matrix: np.ndarray) -> np.ndarray:
    """Return SHAP contributions (rows, features + 1), the bias in the last column."""
    matrix = np.asarray(matrix, dtype=np.float32)
    patterns = split_patterns(matrix, table["features"], table["thresholds"])
    trees = np.arange(patterns.shape[1])
    per_tree = table["values"][trees, patterns]  # (rows, trees, features)
    result = np.empty((matrix.shape[0], matrix.shape[1] + 1), dtype=np.float64)
    result[:, :-1] = per_tree.sum(axis=1, dtype=np.float64)
    result[:, -1] = table["bias"]
    return result
