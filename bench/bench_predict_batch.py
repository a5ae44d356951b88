"""Batch throughput of the handler on the 6,383 Danish 2013 rows against raw XGBoost.

The handler receives every row of data/danish_ed_validation.csv as one event. Rows with
a missing or zero vital sign come back as error entries, because the handler requires
all six inputs. The raw baseline is `Booster.inplace_predict` on the same 6,383-row
matrix (missing values as NaN) with the same loaded booster. The bench also times, on
the scored rows, XGBoost's own TreeSHAP (`pred_contribs`) and the handler's lookup table
that replaces it. The rest of the handler's time is per-patient Python: validation and
building the reason and warning dicts. Target: handler rows/s >= 0.5x raw.

Run: `python -m bench.bench_predict_batch [--repeat N]`.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import xgboost as xgb

from ml_container.predict import handler as handler_module
from ml_container.predict.shap_table import contributions

REPO = Path(__file__).resolve().parents[1]
COLUMNS = {"spo2": "sat", "respiratory_rate": "rf", "heart_rate": "puls",
           "systolic_bp": "bts"}  # fmt: skip


def _number(text: str) -> int | float | None:
    if text == "":
        return None
    value = float(text)
    return int(value) if value.is_integer() else value


def validation_patients() -> list[dict[str, Any]]:
    """Return every 2013 row as a handler patient (sex 0 female, 1 male)."""
    with (REPO / "data" / "danish_ed_validation.csv").open(newline="") as handle:
        return [
            {
                "id": record["rowname"],
                "age": _number(record["age"]),
                "sex": "male" if record["sex"] == "1.0" else "female",
                **{field: _number(record[column]) for field, column in COLUMNS.items()},
            }
            for record in csv.DictReader(handle)
        ]


def seconds(call: Callable[[], object], repeat: int) -> float:
    """Return the median wall time of `repeat` calls after one warm-up call."""
    call()
    values = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        values.append(time.perf_counter() - started)
    return statistics.median(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per variant")
    arguments = parser.parse_args()

    handler_module.logger.handlers[0].setStream(open("/dev/null", "w"))  # noqa: SIM115
    patients = validation_patients()
    event = {"patients": patients}
    answer = handler_module.handler(event, None)
    scored = [p for p in answer["predictions"] if "probability" in p]
    booster = handler_module.get_artifacts().booster
    matrix = np.array(
        [[np.nan if p[k] is None else float(p[k]) if k != "sex" else
          float(p[k] == "male") for k in ("age", "sex", "spo2", "respiratory_rate",
                                          "heart_rate", "systolic_bp")]
         for p in patients],
        dtype=np.float32,
    )  # fmt: skip
    complete = ~np.isnan(matrix).any(axis=1)

    handler_s = seconds(lambda: handler_module.handler(event, None), arguments.repeat)
    raw_s = seconds(lambda: booster.inplace_predict(matrix), arguments.repeat)
    shap_s = seconds(
        lambda: booster.predict(xgb.DMatrix(matrix[complete]), pred_contribs=True),
        arguments.repeat,
    )
    table_s = seconds(
        lambda: contributions(handler_module.get_artifacts().shap_table,
                              matrix[complete]),
        arguments.repeat,
    )  # fmt: skip
    rows = len(patients)
    print(f"rows {rows}, scored by the handler {len(scored)}, "
          f"rejected {rows - len(scored)}")  # fmt: skip
    print(f"handler                        {rows / handler_s:10.0f} rows/s "
          f"({handler_s * 1000:.1f} ms)")  # fmt: skip
    print(f"raw Booster.inplace_predict    {rows / raw_s:10.0f} rows/s "
          f"({raw_s * 1000:.1f} ms)")  # fmt: skip
    print(f"XGBoost pred_contribs (scored) {complete.sum() / shap_s:10.0f} rows/s "
          f"({shap_s * 1000:.1f} ms)")  # fmt: skip
    print(f"SHAP table lookup (scored)     {complete.sum() / table_s:10.0f} rows/s "
          f"({table_s * 1000:.1f} ms)")  # fmt: skip
    print(f"ratio handler/raw rows/s = {raw_s / handler_s:.3f} (target >= 0.5)")


if __name__ == "__main__":
    main()
