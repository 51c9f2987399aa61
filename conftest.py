"""Fixtures shared by tests/ and benches/: where the real data sets are."""
import os

# Before anything loads NumPy's OpenBLAS: its threads then sleep as soon as a call
# ends instead of spinning for a while (about 0.1 s) on the cores that nnfast's next
# timed run, or its planner's timing of a team, needs. A 2-thread forward product of
# 256 x 784 by 784 x 100 timed after NumPy's own took 2.03 ms, 0.29 with this set.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")
from pathlib import Path

import pytest

# The shared data folder sits beside the repository: <repo>/../shared/data.
SHARED_DATA = Path(__file__).resolve().parent / ".." / "shared" / "data"


def data_dir(name):
    """The directory holding data set ``name``: the shared data folder, else
    ``$NNFAST_DATA/<name>``. Skips the test when neither exists; fails it in CI
    (``CI=true``), where the data must be present."""
    candidates = [(SHARED_DATA / name).resolve()]
    if os.environ.get("NNFAST_DATA"):
        candidates.append(Path(os.environ["NNFAST_DATA"]) / name)
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    reason = f"data set {name!r} not found in: " + ", ".join(map(str, candidates))
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def mnist_dir():
    """MNIST: only the t10k files (10,000 test images) are available."""
    return data_dir("mnist")


@pytest.fixture(scope="session")
def fashion_dir():
    """Fashion-MNIST: all four files (60,000 + 10,000 images)."""
    return data_dir("fashion-mnist")
