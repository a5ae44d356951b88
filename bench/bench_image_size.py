"""Installed size of the prediction image's Python packages against a naive stack.

Image set: the distributions named in ml_container/requirements.txt plus their
dependencies (numpy, scipy, xgboost-cpu). Naive set: the same plus scikit-learn, pandas
and the full `xgboost` distribution (CUDA build), as a pipeline built on XGBClassifier,
a scikit-learn scaler and pandas would need. Sizes are summed from the files each
distribution installed in this virtualenv (its RECORD), so they are exact for this
platform. A distribution that is not installed here (pandas and full xgboost, in the
development environment) is listed as missing. With `--download` its wheel is fetched
with `pip download --no-deps` into a temporary folder, and its unpacked size is added.

Run: `python -m bench.bench_image_size [--download]`.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable
from importlib.metadata import (
    Distribution,
    PackageNotFoundError,
    distribution,
    version,
)
from pathlib import Path

from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[1]
REQUIREMENTS = REPO / "ml_container" / "requirements.txt"
# Full xgboost at the same version as the image's xgboost-cpu.
NAIVE_EXTRA = ("scikit-learn", "pandas", f"xgboost=={version('xgboost-cpu')}")
MB = 1024 * 1024


def requirement_names(path: Path = REQUIREMENTS) -> list[str]:
    """Return the distribution names pinned in a requirements file."""
    names = []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.append(Requirement(line).name)
    return names


def closure(names: Iterable[str]) -> tuple[list[Distribution], list[str]]:
    """Return installed distributions reachable from `names` and the missing names.

    Optional dependencies (extras) are not followed.
    """
    found: dict[str, Distribution] = {}
    missing: list[str] = []
    pending = list(names)
    while pending:
        name = Requirement(pending.pop()).name
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in found or key in missing:
            continue
        try:
            dist = distribution(name)
        except PackageNotFoundError:
            missing.append(key)
            continue
        found[key] = dist
        for text in dist.requires or []:
            requirement = Requirement(text)
            marker = requirement.marker
            if marker is None or marker.evaluate({"extra": ""}):
                pending.append(requirement.name)
    return sorted(found.values(), key=lambda d: d.metadata["Name"].lower()), missing


def site_files(dist: Distribution) -> list[Path]:
    """Return the files a distribution installed under site-packages."""
    return [
        Path(str(dist.locate_file(file)))
        for file in dist.files or []
        if file.parts and file.parts[0] != ".."
    ]


def installed_bytes(dist: Distribution) -> int:
    """Return the bytes on disk of a distribution's site-packages files."""
    return sum(path.stat().st_size for path in site_files(dist) if path.is_file())


def build_site(dists: Iterable[Distribution], target: Path) -> Path:
    """Symlink each distribution's top-level entries into `target`, a stand-in image.

    Running `python -S` with only `target` and the repository on sys.path then imports
    what the image would hold and nothing else (no scikit-learn, no pandas).
    """
    target.mkdir(parents=True, exist_ok=True)
    for dist in dists:
        tops = {Path(str(dist.locate_file(f.parts[0]))) for f in dist.files or []
                if f.parts and f.parts[0] != ".."}  # fmt: skip
        for top in tops:
            link = target / top.name
            if not link.exists():
                link.symlink_to(top)
    return target


def _wheel_requirements(wheel: Path) -> list[Requirement]:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        text = archive.read(name).decode()
    requirements = []
    for line in text.splitlines():
        if line.startswith("Requires-Dist:"):
            requirement = Requirement(line.split(":", 1)[1].strip())
            marker = requirement.marker
            if marker is None or marker.evaluate({"extra": ""}):
                requirements.append(requirement)
    return requirements


def download_missing(
    specs: list[str], folder: Path
) -> tuple[dict[str, int], list[Distribution]]:
    """Download wheels for `specs` and their not-installed dependencies.

    Returns unpacked bytes per downloaded distribution, and the installed distributions
    that the downloaded ones depend on (python-dateutil for pandas, for example).
    """
    downloaded: dict[str, int] = {}
    installed: list[Distribution] = []
    pending = list(specs)
    while pending:
        spec = pending.pop()
        key = Requirement(spec).name.lower()
        if key in downloaded:
            continue
        before = set(folder.glob("*.whl"))
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
             "--only-binary=:all:", "--dest", str(folder), spec],
            check=True,
        )  # fmt: skip
        wheel = next(iter(set(folder.glob("*.whl")) - before))
        with zipfile.ZipFile(wheel) as archive:
            downloaded[key] = sum(info.file_size for info in archive.infolist())
        for requirement in _wheel_requirements(wheel):
            found, missing = closure([requirement.name])
            installed.extend(found)
            pending.extend(missing)
    return downloaded, installed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--download",
        action="store_true",
        help="fetch wheels of missing naive-set packages with pip to measure them",
    )
    arguments = parser.parse_args()

    image, image_missing = closure(requirement_names())
    naive_specs = [*requirement_names(), *NAIVE_EXTRA]
    naive, naive_missing = closure(naive_specs)
    downloaded: dict[str, int] = {}
    if arguments.download and naive_missing:
        specs = [
            spec
            for spec in naive_specs
            if re.sub(r"[-_.]+", "-", Requirement(spec).name).lower() in naive_missing
        ]
        with tempfile.TemporaryDirectory() as folder:
            downloaded, needed = download_missing(specs, Path(folder))
        naive.extend(d for d in needed if d not in naive)
    sizes = {d.metadata["Name"]: installed_bytes(d) for d in naive}
    # The full xgboost replaces xgboost-cpu in the naive set once it was measured.
    if "xgboost" in downloaded:
        sizes.pop("xgboost-cpu", None)

    print("distribution                 installed MB  in image")
    image_names = {d.metadata["Name"] for d in image}
    for name, size in sorted(sizes.items()):
        mark = "yes" if name in image_names else "no"
        print(f"{name:28} {size / MB:12.1f}  {mark}")
    for name, size in downloaded.items():
        print(f"{name:28} {size / MB:12.1f}  no (unpacked wheel, pip download)")
    image_total = sum(installed_bytes(d) for d in image)
    naive_total = sum(sizes.values()) + sum(downloaded.values())
    unmeasured = [n for n in naive_missing if n not in downloaded]
    if image_missing:
        print(f"image distributions not installed: {', '.join(image_missing)}")
    if unmeasured:
        print(
            f"naive distributions not installed and not measured: "
            f"{', '.join(unmeasured)} (rerun with --download to include them)"
        )
    print(f"image set  {image_total / MB:8.1f} MB  ({len(image)} distributions)")
    print(f"naive set  {naive_total / MB:8.1f} MB")
    print(f"ratio image/naive = {image_total / naive_total:.2f}")


if __name__ == "__main__":
    main()
