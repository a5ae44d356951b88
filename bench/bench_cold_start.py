"""Cold start of the prediction handler: process start to the first scored patient.

Three set-ups, each started as a fresh Python process several times (median reported):

- image: `python -S` with only the image's distributions (ml_container/requirements.txt:
  numpy, scipy, xgboost-cpu) symlinked onto sys.path, as in the Lambda image;
- venv: the same handler in the development virtualenv, where xgboost finds
  scikit-learn and imports it;
- naive: the usual notebook export, a pickled `xgboost.XGBClassifier` and scikit-learn
  `StandardScaler`, unpickled and used in the development virtualenv. The bench trains
  both on the Danish 2010 cohort in a temporary folder first.

Targets: image median <= 0.5 s and <= 0.4x naive. Lambda adds its own runtime start-up
and image pull on top of these figures, so this measures only our share.

Run: `python -m bench.bench_cold_start [--runs N]`.
"""

from __future__ import annotations

import argparse
import csv
import pickle
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_image_size import build_site, closure, requirement_names

REPO = Path(__file__).resolve().parents[1]
MARKER = "FIRST-ANSWER"
PATIENT = {"id": "bench", "age": 71, "sex": "male", "spo2": 91,
           "respiratory_rate": 24, "heart_rate": 112, "systolic_bp": 98}  # fmt: skip

HANDLER_SCRIPT = """
import sys
sys.path[:0] = {paths!r}
from ml_container.predict.handler import handler
answer = handler({{"patients": [{patient!r}]}}, None)
assert "probability" in answer["predictions"][0], answer
print({marker!r}, flush=True)
"""

NAIVE_SCRIPT = """
import pickle
import numpy as np
with open({model!r}, "rb") as handle:
    model = pickle.load(handle)
with open({scaler!r}, "rb") as handle:
    scaler = pickle.load(handle)
row = np.array([[71, 1, 91, 24, 112, 98]], dtype=float)
probability = float(model.predict_proba(scaler.transform(row))[0, 1])
assert 0.0 <= probability <= 1.0
print({marker!r}, flush=True)
"""


def time_first_answer(command: list[str]) -> float:
    """Start a process and return the seconds until it prints the marker line."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO
    )
    assert process.stdout is not None
    for line in process.stdout:
        if line.strip() == MARKER:
            elapsed = time.perf_counter() - started
            process.wait()
            return elapsed
    _, error = process.communicate()
    raise RuntimeError(f"{command[:2]} exited {process.returncode}: {error[-500:]}")


def build_naive_artifacts(folder: Path) -> tuple[Path, Path]:
    """Train and pickle an XGBClassifier and StandardScaler like a notebook would."""
    import numpy as np
    import xgboost as xgb
    from sklearn.preprocessing import StandardScaler

    columns = ("age", "sex", "saturation", "respirationsfrekvens", "puls",
               "systoliskblodtryk")  # fmt: skip
    rows, labels = [], []
    with (REPO / "data" / "danish_ed_primary.csv").open(newline="") as handle:
        for record in csv.DictReader(handle):
            if any(record[c] == "" for c in columns):
                continue
            record["sex"] = "1" if record["sex"] == "male" else "0"
            rows.append([float(record[c]) for c in columns])
            labels.append(int(float(record["icustatus"])))
    x = np.array(rows)
    scaler = StandardScaler().fit(x)
    model = xgb.XGBClassifier(
        n_estimators=126, max_depth=3, learning_rate=0.03, n_jobs=1, random_state=0
    )
    model.fit(scaler.transform(x), np.array(labels))
    model_path, scaler_path = folder / "classifier.pkl", folder / "scaler.pkl"
    model_path.write_bytes(pickle.dumps(model))
    scaler_path.write_bytes(pickle.dumps(scaler))
    return model_path, scaler_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="starts per set-up")
    arguments = parser.parse_args()

    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        image_dists, missing = closure(requirement_names())
        if missing:
            raise SystemExit(f"image distributions not installed: {missing}")
        site = build_site(image_dists, folder / "site")
        model_path, scaler_path = build_naive_artifacts(folder)

        image_script = HANDLER_SCRIPT.format(
            paths=[str(site), str(REPO)], patient=PATIENT, marker=MARKER
        )
        venv_script = HANDLER_SCRIPT.format(
            paths=[str(REPO)], patient=PATIENT, marker=MARKER
        )
        naive_script = NAIVE_SCRIPT.format(
            model=str(model_path), scaler=str(scaler_path), marker=MARKER
        )
        commands = {
            "image (handler, image packages only)": [
                sys.executable, "-S", "-c", textwrap.dedent(image_script)],
            "venv (handler, scikit-learn present)": [
                sys.executable, "-c", textwrap.dedent(venv_script)],
            "naive (XGBClassifier + StandardScaler)": [
                sys.executable, "-c", textwrap.dedent(naive_script)],
        }  # fmt: skip
        timings: dict[str, list[float]] = {name: [] for name in commands}
        for command in commands.values():
            time_first_answer(command)  # warm the page cache once, not counted
        for _ in range(arguments.runs):
            for name, command in commands.items():
                timings[name].append(time_first_answer(command))

    medians = {name: statistics.median(values) for name, values in timings.items()}
    for name, values in timings.items():
        print(
            f"{name:40} median {medians[name]:.3f} s  "
            f"min {min(values):.3f}  max {max(values):.3f}  runs {len(values)}"
        )
    image, naive = (
        medians["image (handler, image packages only)"],
        medians["naive (XGBClassifier + StandardScaler)"],
    )
    print(f"image cold start = {image:.3f} s (target <= 0.5 s)")
    print(f"ratio image/naive = {image / naive:.2f} (target <= 0.4)")


if __name__ == "__main__":
    main()
