"""Tabulate XGBoost's own TreeSHAP output per tree and split pattern (see predict side).

For each tree the builder takes every threshold of every feature the tree splits on and
forms one representative row per cell of the resulting grid. The representatives are a
value below the lowest threshold and each threshold itself, which falls in the interval
it opens. It then calls `Booster.predict(..., pred_contribs=True)` on that single tree
for those rows. Every
split pattern a finite input can produce occurs in that grid, so the table covers all
inputs the handler accepts.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import numpy as np
import xgboost as xgb

from ml_container.predict.shap_table import split_patterns

MAX_SLOTS = 7  # a depth-3 tree has at most 7 splits; deeper trees would need more bits


def _tree_splits(tree: dict[str, Any]) -> list[tuple[int, float]]:
    """Return (feature index, threshold) of each split node, in node-id order."""
    return [
        (int(feature), float(threshold))
        for left, feature, threshold in zip(
            tree["left_children"],
            tree["split_indices"],
            tree["split_conditions"],
            strict=True,
        )
        if left != -1
    ]


def build_shap_table(booster: xgb.Booster) -> dict[str, Any]:
    """Return the table that `ml_container.predict.shap_table.contributions` reads.

    Raises ValueError when a tree has more than `MAX_SLOTS` splits.
    """
    # The JSON model contains the float32 thresholds, written to round-trip exactly.
    model = json.loads(booster.save_raw("json"))
    trees = model["learner"]["gradient_booster"]["model"]["trees"]
    feature_count = booster.num_features()
    features = np.zeros((len(trees), MAX_SLOTS), dtype=np.int64)
    thresholds = np.full((len(trees), MAX_SLOTS), np.inf, dtype=np.float32)
    values = np.zeros((len(trees), 2**MAX_SLOTS, feature_count), dtype=np.float32)

    for index, tree in enumerate(trees):
        splits = _tree_splits(tree)
        if len(splits) > MAX_SLOTS:
            raise ValueError(f"tree {index} has {len(splits)} splits; at most 7 fit")
        for slot, (feature, threshold) in enumerate(splits):
            features[index, slot] = feature
            thresholds[index, slot] = threshold
        used = sorted({feature for feature, _ in splits})
        grids = []
        for feature in used:
            cuts = sorted({np.float32(t) for f, t in splits if f == feature})
            grids.append([np.float32(cuts[0] - 1.0), *cuts])
        rows = np.zeros((0, feature_count), dtype=np.float32)
        if used:
            cells = list(itertools.product(*grids))
            rows = np.zeros((len(cells), feature_count), dtype=np.float32)
            rows[:, used] = np.asarray(cells, dtype=np.float32)
        else:  # a single-leaf tree contributes nothing to any feature
            rows = np.zeros((1, feature_count), dtype=np.float32)
        single_tree = booster[index : index + 1]
        shap = single_tree.predict(xgb.DMatrix(rows), pred_contribs=True)
        patterns = split_patterns(
            rows, features[index : index + 1], thresholds[index : index + 1]
        )[:, 0]
        values[index, patterns] = shap[:, :feature_count]

    bias_row = np.zeros((1, feature_count), dtype=np.float32)
    bias = booster.predict(xgb.DMatrix(bias_row), pred_contribs=True)[0, -1]
    return {
        "features": features,
        "thresholds": thresholds,
        "values": values,
        "bias": float(bias),
    }
