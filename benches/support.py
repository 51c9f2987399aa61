"""Helpers of the benchmarks: fair baselines and inputs."""
import contextlib

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover - threadpoolctl comes with the test extra
    threadpool_limits = None


@contextlib.contextmanager
def blas_threads(n):
    """Limit NumPy's BLAS to n threads for the block (a no-op without threadpoolctl)."""
    if threadpool_limits is None:
        yield
    else:
        with threadpool_limits(limits=n, user_api="blas"):
            yield


def random_matrix(rng, shape, dtype):
    return rng.standard_normal(shape).astype(dtype)
