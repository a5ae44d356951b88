"""Train, calibrate and evaluate the ICU model; rewrite `ml_container/model/`.

Run with `make model` (or `python -m ml_container.training.train`). Two runs on the same
data and library versions write byte-identical artifacts; `--model-dir` writes
elsewhere, which the reproducibility check uses.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

import numpy as np
import xgboost as xgb
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import Progress
from rich.table import Table

from ml_container.predict.features import FEATURE_NAMES
from ml_container.training import export, report
from ml_container.training.card import write_card
from ml_container.training.data import (
    DATA_DIR,
    PRIMARY_FILE,
    Cohort,
    load_all,
    sha256_file,
)
from ml_container.training.metrics import evaluate_scores, reliability_curve
from ml_container.training.shap_table import build_shap_table
from ml_container.training.tune import (
    SEED,
    TuningResult,
    calibrate,
    choose_cutoffs,
    fit_platt,
    tune,
)

logger = logging.getLogger(__name__)
MODEL_DIR = Path(__file__).resolve().parents[1] / "model"


def _evaluate_external(
    booster: xgb.Booster,
    cohort: Cohort,
    outcome: str,
    calibration: dict[str, float],
    cutoffs: dict[str, float],
) -> tuple[dict[str, Any], np.ndarray]:
    margin = booster.predict(xgb.DMatrix(cohort.x), output_margin=True)
    probability = calibrate(margin, calibration)
    y = cohort.outcomes[outcome]
    result = evaluate_scores(y, probability, cohort.comparators, cutoffs, SEED)
    complete = cohort.complete
    result["complete_vitals"] = evaluate_scores(
        y[complete],
        probability[complete],
        {name: score[complete] for name, score in cohort.comparators.items()},
        cutoffs,
        SEED,
    )
    # Reliability and cut-off tables of the subset are left out to keep the manifest
    # short.
    del result["complete_vitals"]["model"]["reliability"]
    return result, probability


def _summary_table(evaluation: dict[str, dict[str, Any]]) -> Table:
    table = Table(title="External evaluation (AUROC, 95% bootstrap CI)")
    for column in ("set", "n", "events", "model", "NEWS2", "triage"):
        table.add_column(column)
    for name, result in evaluation.items():
        cells = [
            f"{result[key]['auroc']:.3f} ({result[key]['ci_low']:.3f}-"
            f"{result[key]['ci_high']:.3f})"
            for key in ("model", "news2", "triage")
        ]
        table.add_row(name, str(result["n"]), str(result["events"]), *cells)
    return table


def train(model_dir: Path, console: Console) -> dict[str, Any]:
    """Run the whole pipeline and return the manifest that was written."""
    model_dir.mkdir(parents=True, exist_ok=True)
    primary, validation, ktas = load_all()
    logger.info("loaded cohorts: primary %d, validation %d, KTAS %d rows",
                len(primary.x), len(validation.x), len(ktas.x))  # fmt: skip
    y = primary.outcomes["icu"]

    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("cross-validating the grid", total=6)
        tuning: TuningResult = tune(
            primary.x, y, on_step=lambda _: progress.advance(task)
        )
    logger.info("chosen %s with %d rounds, CV AUROC %.4f",
                {k: tuning.params[k] for k in ("max_depth", "min_child_weight")},
                tuning.rounds, tuning.cv_auroc)  # fmt: skip

    calibration = fit_platt(tuning.oof_margin, y)
    oof_probability = calibrate(tuning.oof_margin, calibration)
    cutoffs = choose_cutoffs(oof_probability, y)
    logger.info("risk cut-offs %s", cutoffs)

    booster = xgb.train(
        tuning.params, xgb.DMatrix(primary.x, label=y), num_boost_round=tuning.rounds
    )
    scaler = export.scaler_stats(primary.x)
    with console.status("tabulating TreeSHAP per tree"):
        shap_table = build_shap_table(booster)
    hashes = export.write_pickles(model_dir, booster, scaler, shap_table)
    version = export.model_version(hashes[export.MODEL_FILE])

    with console.status("evaluating on the external cohorts"):
        evaluation: dict[str, dict[str, Any]] = {}
        probabilities: dict[str, np.ndarray] = {}
        for key, cohort, outcome in (
            ("danish_2013_icu", validation, "icu"),
            ("ktas_icu_or_death", ktas, "icu_or_death"),
            ("ktas_admission", ktas, "admission"),
        ):
            evaluation[key], probabilities[key] = _evaluate_external(
                booster, cohort, outcome, calibration, cutoffs
            )
        evaluation["danish_2010_oof"] = evaluate_scores(
            y, oof_probability, primary.comparators, cutoffs, SEED
        )
    console.print(_summary_table(evaluation))

    contributions = booster.predict(xgb.DMatrix(primary.x), pred_contribs=True)
    mean_abs_shap = np.abs(contributions[:, : len(FEATURE_NAMES)]).mean(axis=0)
    report.plot_roc(
        model_dir / "roc.png",
        [
            {"title": "Danish 2013: ICU admission", "y": validation.outcomes["icu"],
             "model": probabilities["danish_2013_icu"],
             "comparators": validation.comparators},
            {"title": "KTAS: ICU admission or death",
             "y": ktas.outcomes["icu_or_death"],
             "model": probabilities["ktas_icu_or_death"],
             "comparators": ktas.comparators},
        ],
    )  # fmt: skip
    report.plot_calibration(
        model_dir / "calibration.png",
        {
            "Danish 2010, out of fold": reliability_curve(y, oof_probability),
            "Danish 2013": evaluation["danish_2013_icu"]["model"]["reliability"],
            "KTAS ICU or death": evaluation["ktas_icu_or_death"]["model"][
                "reliability"
            ],
        },
    )
    report.plot_importance(model_dir / "feature_importance.png", mean_abs_shap)

    manifest: dict[str, Any] = {
        "model_version": version,
        "target": "ICU admission (Danish icustatus) from age, sex and four vital signs",
        "features": export.feature_entries(scaler),
        "feature_importance": {
            name: round(float(value), 4)
            for name, value in zip(FEATURE_NAMES, mean_abs_shap, strict=True)
        },
        "training_data": {
            "file": f"data/{PRIMARY_FILE}",
            "sha256": sha256_file(DATA_DIR / PRIMARY_FILE),
            "rows": int(len(y)),
            "events": int(y.sum()),
        },
        "libraries": export.library_versions(),
        "seed": SEED,
        "params": {k: v for k, v in tuning.params.items() if k != "eval_metric"},
        "num_boost_round": tuning.rounds,
        "tuning": {"cv_auroc": tuning.cv_auroc, "grid": tuning.grid},
        "calibration": calibration,
        "risk_levels": cutoffs,
        "plots": {
            "roc": "roc.png",
            "calibration": "calibration.png",
            "feature_importance": "feature_importance.png",
        },
        "validation": evaluation,
    }
    write_card(model_dir / export.CARD_FILE, manifest, primary, validation, ktas)
    export.write_manifest(model_dir, manifest)
    console.print(f"wrote {model_dir} ({version})")
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model-dir",
        type=Path,
        default=MODEL_DIR,
        help="folder to write the artifacts to (default: ml_container/model)",
    )
    arguments = parser.parse_args()
    console = Console()
    logging.basicConfig(
        level=logging.INFO,
        format="%(message)s",
        handlers=[RichHandler(console=console, show_time=False, show_path=False)],
    )
    train(arguments.model_dir, console)


if __name__ == "__main__":
    main()
