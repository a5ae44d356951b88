"""Suite-wide setup: import paths and the session fixtures from tests/fixtures/."""

from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
# The same paths the Makefile exports, so a bare `pytest` works too.
for _path in (
    REPO_ROOT,
    REPO_ROOT / "layers" / "triage_core",
    REPO_ROOT / "functions" / "api",
):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from tests.fixtures.stack import mongodb_uri, stack  # noqa: E402, F401
