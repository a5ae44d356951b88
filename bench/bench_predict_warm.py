"""Warm single-patient latency of the handler against raw `Booster.inplace_predict`.

Both score the same patient with the same loaded booster. The handler also validates
the input, looks up TreeSHAP contributions, words three reasons and checks the
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
LOOPS = 300


def per_call_microseconds(call: Callable[[], object]) -> float:
    """Return microseconds per call over LOOPS calls."""
    started = time.perf_counter()
    for _ in range(LOOPS):
        call()
    return (time.perf_counter() - started) / LOOPS * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15, help="rounds per variant")
    arguments = parser.parse_args()

    # The handler's JSON log line per invocation is part of its cost in Lambda, but
    # here it would flood the terminal, so it goes to a null stream.
    handler_module.logger.handlers[0].setStream(open("/dev/null", "w"))  # noqa: SIM115
    event = {"patients": [PATIENT]}
    handler_module.handler(event, None)
    booster = handler_module.get_artifacts().booster
    row = np.asarray([patient_to_row(PATIENT)], dtype=np.float32)

    calls = {
        "handler (validate, SHAP, reasons)": lambda: handler_module.handler(
            event, None
        ),
        "raw Booster.inplace_predict": lambda: booster.inplace_predict(row),
    }
    # The two variants alternate, so a busy machine slows both alike; the ratio is the
    # median of the per-round ratios.
    timings: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(arguments.repeat):
        for name, call in calls.items():
            timings[name].append(per_call_microseconds(call))
    handler_name, raw_name = list(calls)
    ratios = [h / r for h, r in zip(timings[handler_name], timings[raw_name],
                                    strict=True)]  # fmt: skip
    for name, values in timings.items():
        print(f"{name:36} median {statistics.median(values):8.1f} us per patient")
    print(f"ratio handler/raw = {statistics.median(ratios):.2f} (target <= 2.0)")


if __name__ == "__main__":
    main()
