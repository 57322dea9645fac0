"""Where the real public data files are: ../shared/data beside the checkout (also in CI).

Outside CI a machine without them skips the tests that read them, saying why; in CI (``CI`` set)
those tests run and fail if the files are missing.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_DATA = Path(
    os.environ.get("KARMA_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)
needs_shared_data = pytest.mark.skipif(
    not SHARED_DATA.is_dir() and not os.environ.get("CI"),
    reason=f"real data files not found at {SHARED_DATA} (set KARMA_SHARED_DATA)",
)
