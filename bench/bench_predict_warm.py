"""Warm single-patient latency of the handler against raw `Booster.inplace_predict`.

Both score the same patient with the same loaded booster; the handler also validates
the input, computes TreeSHAP contributions, words three reasons and checks the
training distribution. Target: handler <= 2x raw booster.

Run: `python -m bench.bench_predict_warm [--repeat N]`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from ml_container.predict import handler as handler_module
from ml_container.predict.features import patient_to_row

PATIENT = {"id": "bench", "age": 71, "sex": "male", "spo2": 91,
           "respiratory_rate": 24, "heart_rate": 112, "systolic_bp": 98,
           "supplemental_oxygen": False, "consciousness": "A"}  # fmt: skip
LOOPS = 500


def per_call_microseconds(call: Callable[[], object], repeat: int) -> list[float]:
    """Return microseconds per call for `repeat` batches of LOOPS calls each."""
    call()
    results = []
    for _ in range(repeat):
        started = time.perf_counter()
        for _ in range(LOOPS):
            call()
        results.append((time.perf_counter() - started) / LOOPS * 1e6)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="batches per variant")
    arguments = parser.parse_args()

    # The handler's JSON log line per invocation is part of its cost in Lambda, but
    # here it would flood the terminal, so it goes to a null stream.
    handler_module.logger.handlers[0].setStream(open("/dev/null", "w"))  # noqa: SIM115
    event = {"patients": [PATIENT]}
    handler_module.handler(event, None)
    booster = handler_module.get_artifacts().booster
    row = np.asarray([patient_to_row(PATIENT)], dtype=np.float32)

    timings = {
        "handler (validate, SHAP, reasons)": per_call_microseconds(
            lambda: handler_module.handler(event, None), arguments.repeat
        ),
        "raw Booster.inplace_predict": per_call_microseconds(
            lambda: booster.inplace_predict(row), arguments.repeat
        ),
    }
    medians = {name: statistics.median(values) for name, values in timings.items()}
    for name, value in medians.items():
        print(f"{name:36} median {value:8.1f} us per patient")
    ratio = (
        medians["handler (validate, SHAP, reasons)"]
        / medians["raw Booster.inplace_predict"]
    )
    print(f"ratio handler/raw = {ratio:.2f} (target <= 2.0)")


if __name__ == "__main__":
    main()
