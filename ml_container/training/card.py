"""Write `model_card.md` from the manifest; every number in it comes from this run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ml_container.training.data import Cohort

SET_TITLES = {
    "danish_2010_oof": "Danish 2010, out of fold (training cohort)",
    "danish_2013_icu": "Danish 2013, ICU admission (external)",
    "ktas_icu_or_death": "KTAS, ICU admission or death (external)",
    "ktas_admission": "KTAS, any admission (external)",
}


def _paragraph(*parts: str) -> str:
    return " ".join(parts)


def _ci(entry: dict[str, Any]) -> str:
    return f"{entry['auroc']:.3f} ({entry['ci_low']:.3f} to {entry['ci_high']:.3f})"


def _auroc_table(evaluation: dict[str, Any], subset: str | None = None) -> list[str]:
    lines = [
        "| set | n | events | model AUROC (95% CI) | NEWS2 AUROC | triage AUROC "
        "| model AUPRC | model Brier |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for key, title in SET_TITLES.items():
        result = evaluation[key] if subset is None else evaluation[key].get(subset)
        if result is None:
            continue
        model = result["model"]
        lines.append(
            f"| {title} | {result['n']} | {result['events']} | {_ci(model)} "
            f"| {_ci(result['news2'])} "
            f"| {_ci(result['triage'])} (n {result['triage']['n']}) "
            f"| {model['auprc']:.3f} | {model['brier']:.4f} |"
        )
    return lines


def _cutoff_table(evaluation: dict[str, Any]) -> list[str]:
    lines = [
        "| set | level (p >= cut-off) | flagged | sensitivity | specificity | PPV |",
        "|---|---|---|---|---|---|",
    ]
    for key, title in SET_TITLES.items():
        for level, row in evaluation[key]["model"]["cutoffs"].items():
            ppv = "n/a" if row["ppv"] is None else f"{row['ppv']:.3f}"
            lines.append(
                f"| {title} | {level} ({row['cutoff']}) | {row['flagged']} "
                f"| {row['sensitivity']:.3f} | {row['specificity']:.3f} | {ppv} |"
            )
    return lines


def write_card(
    path: Path,
    manifest: dict[str, Any],
    primary: Cohort,
    validation: Cohort,
    ktas: Cohort,
) -> None:
    """Render the model card as Markdown; plots are referenced by file name."""
    cut = manifest["risk_levels"]
    calibration = manifest["calibration"]
    params = manifest["params"]
    evaluation = manifest["validation"]
    data = manifest["training_data"]
    features = ", ".join(
        f"{entry['label']} ({entry.get('unit') or 'female/male'})"
        for entry in manifest["features"]
    )
    sections = [
        f"# Model card: {manifest['model_version']}",
        "## Purpose",
        _paragraph(
            "Estimates the probability that an adult arriving at an emergency",
            "department will be admitted to intensive care, from measurements a",
            "paramedic takes at the scene. It ranks patients on the doctors' board",
            "next to NEWS2. It does not replace clinical judgement or NEWS2, and it",
            "was never validated prospectively.",
        ),
        "## Inputs",
        f"{features}. No blood tests and no triage category are used.",
        _paragraph(
            "GCS is not an input, although the training cohort records it. The",
            "Danish 2013 and KTAS cohorts have no GCS, so a model that relied on it",
            "could not be tested externally, and paramedics report AVPU",
            "(`consciousness`), which the training data lacks. Temperature, oxygen",
            "and diastolic pressure are absent from the training data, so the model",
            "cannot use them either; NEWS2 covers them on the board.",
        ),
        "## Data",
        "\n".join(
            [
                _paragraph(
                    f"- Training: Danish 2010 cohort, {data['rows']} patients,",
                    f"{data['events']} ICU admissions",
                    f"(`data/danish_ed_primary.csv`, SHA-256 `{data['sha256']}`, CC0).",
                ),
                _paragraph(
                    f"- External: Danish 2013 cohort ({len(validation.x)} patients",
                    f"after dropping {validation.dropped['age missing']} without age;",
                    "CC0) and the KTAS cohort from two Korean EDs",
                    f"({len(ktas.x)} visits after merging",
                    f"{ktas.dropped['same visit, second diagnosis']} repeated rows;",
                    "CC BY 4.0, Moon et al. 2019, PLOS ONE).",
                ),
                _paragraph(
                    "- Cleaning: empty fields, `??` and vital signs of 0 are missing;",
                    "values outside the API's plausible ranges are missing too.",
                    "XGBoost routes missing values down the branch it learned in",
                    "training, but the API always sends all six inputs.",
                ),
                _paragraph(
                    "- Danish 2013 sex is coded 0/1 without documentation; 0 is read",
                    "as female and 1 as male, because code 1 has the male pattern of",
                    "the 2010 cohort (higher haemoglobin, creatinine and ICU rate).",
                    "The two pairs of identical 2013 rows have no vital signs; they",
                    "are kept, because two patients with empty records look the same.",
                ),
            ]
        ),
        "## Training",
        _paragraph(
            f"XGBoost {manifest['libraries']['xgboost-cpu']} (`binary:logistic`,",
            f"`hist`), seed {manifest['seed']}, {params['nthread']} threads.",
            "Five-fold stratified CV on the 2010 cohort chose `max_depth` and",
            "`min_child_weight` by mean AUROC; early stopping set the rounds.",
            f"Chosen: max_depth {params['max_depth']}, min_child_weight",
            f"{params['min_child_weight']}, eta {params['eta']},",
            f"{manifest['num_boost_round']} rounds, CV AUROC",
            f"{manifest['tuning']['cv_auroc']:.3f}.",
        ),
        _paragraph(
            "Calibration: Platt scaling on the out-of-fold margins,",
            f"p = 1 / (1 + exp(-({calibration['slope']} * margin +",
            f"{calibration['intercept']}))).",
        ),
        "## Risk levels",
        _paragraph(
            "Cut-offs are lower bounds on the calibrated probability, chosen on the",
            "2010 out-of-fold predictions so that `moderate` or higher catches 90% of",
            "ICU admissions, `high` or higher 60% and `critical` 25%:",
        ),
        "\n".join(
            [
                f"- low: p < {cut['moderate']}",
                f"- moderate: {cut['moderate']} <= p < {cut['high']}",
                f"- high: {cut['high']} <= p < {cut['critical']}",
                f"- critical: p >= {cut['critical']}",
            ]
        ),
        "## Evaluation",
        _paragraph(
            "All patients with age recorded; missing vitals stay missing. NEWS2 is",
            "computed from the same rows by `triage_core.news2` and is partial: no",
            "temperature or oxygen flag in the Danish files, consciousness from GCS",
            "(15 alert, else 3 points) in 2010 and absent in 2013. Triage is the",
            "nurses' colour (Danish) or KTAS_RN (Korea) as an ordinal score, on the",
            "rows where it was recorded. CIs come from 1,000 bootstrap resamples.",
            "For KTAS any admission the Brier score compares ICU probabilities with",
            "admissions, so it measures the outcome mismatch, not calibration.",
        ),
        "\n".join(_auroc_table(evaluation)),
        "Rows with all six inputs recorded, the only kind the API sends:",
        "\n".join(_auroc_table(evaluation, "complete_vitals")),
        "Cut-offs applied to each set:",
        "\n".join(_cutoff_table(evaluation)),
        "![ROC curves](roc.png)\n![Calibration](calibration.png)\n"
        "![Feature importance](feature_importance.png)",
        "## Limitations",
        "\n".join(
            [
                _paragraph(
                    "- About 100 ICU admissions per Danish cohort and 16 ICU",
                    "admissions or deaths in KTAS, so the CIs are wide; the KTAS ICU",
                    "result rests on very few events.",
                ),
                _paragraph(
                    "- Trained on adults (16 to 108 years); the function warns for",
                    "children and for inputs far outside the training distribution.",
                ),
                _paragraph(
                    "- ICU admission depends on local bed policy; probabilities from",
                    "a Danish hospital in 2010 need recalibration before use",
                    "elsewhere (see the calibration plot).",
                ),
                _paragraph(
                    "- NEWS2 here lacks temperature and oxygen, which favours the",
                    "model in the comparison.",
                ),
            ]
        ),
    ]
    path.write_text("\n\n".join(sections) + "\n", encoding="utf-8")
