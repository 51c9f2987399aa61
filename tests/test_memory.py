"""Memory: repeated training and prediction do not leak, and a training epoch's
allocations do not grow with the number of chunks it runs.

RSS is read from /proc/self/statm (Linux). Each check warms up first, so that the
allocator's arenas, NumPy's caches, the per-thread GEMM packing buffers and OpenMP's
team have reached their steady size, then compares. (valgrind memcheck of an epoch,
and the sanitizer build, are in .ci/sanitize.)
"""
import gc
import os
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest

import nnfast
from nnfast import ConvPoolLayer, Network, SoftmaxLayer, kernels
from nnfast import training as training_module

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/statm"),
                                reason="reads RSS from /proc/self/statm")

PAGE = os.sysconf("SC_PAGE_SIZE")
MB = 1 << 20


def rss():
    gc.collect()
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


def data(n, n_in, n_out, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, n_in), dtype=np.float32), rng.integers(0, n_out, n)


# Every call below allocates buffers of 100 kB or more (weights 784 x 32 floats, the
# mini-batch workspace, the chunk's copy of the parameters): a leak of any of them, or
# of the network's C engine, would add >= 100 MB over 1,000 calls. 8 MB leaves room
# for allocator noise (glibc keeps freed blocks in its arenas) and still fails on
# anything that leaks 8 kB a call.
LEAK_BOUND = 8 * MB


def test_no_leak_across_1000_train_and_predict_calls():
    X, y = data(50, 784, 10)
    net = Network([784, 30, 10], seed=0)

    def calls(count):
        for _ in range(count):
            net.SGD((X, y), 1, 10, 0.5, n_threads=1)
            net.predict(X)

    calls(100)
    before = rss()
    calls(1000)
    grown = rss() - before
    assert grown < LEAK_BOUND, f"RSS grew by {grown / MB:.1f} MB over 1,000 calls"


def test_no_leak_across_1000_networks_built_trained_and_dropped():
    X, y = data(20, 64, 3)
    layers = [ConvPoolLayer((4, 1, 3, 3), (1, 8, 8), (2, 2)), SoftmaxLayer(36, 3)]

    def calls(count):
        for seed in range(count):
            net = Network(layers, seed=seed)
            net.SGD((X, y), 1, 10, 0.1, n_threads=1)
            net.feedforward(X)

    calls(100)
    before = rss()
    calls(1000)
    grown = rss() - before
    # Each network owns an engine, its parameter stores and a workspace (~10 kB).
    assert grown < LEAK_BOUND, f"RSS grew by {grown / MB:.1f} MB over 1,000 networks"


def test_python_objects_do_not_accumulate_across_training_calls():
    X, y = data(50, 784, 10)
    net = Network([784, 30, 10], seed=0)
    for _ in range(20):
        net.SGD((X, y), 1, 10, 0.5, n_threads=1)
    tracemalloc.start()
    try:
        start, _ = tracemalloc.get_traced_memory()
        for _ in range(200):
            net.SGD((X, y), 1, 10, 0.5, n_threads=1)
            net.accuracy((X, y))
        end, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Nothing is kept per call: 200 calls that each held on to even one small object
    # (a History, a permutation of 50 rows) would add >= 20 kB.
    assert end - start < 20_000, f"{end - start} bytes still held after 200 calls"


def _epoch_peak(monkeypatch, chunk_flops, X, y):
    monkeypatch.setattr(training_module, "CHUNK_FLOPS", chunk_flops)
    monkeypatch.setattr(training_module, "CHUNK_SECONDS", 0.0)  # every chunk that size
    net = Network([784, 30, 10], seed=0)
    net.SGD((X, y), 1, 10, 0.5, n_threads=1)  # warm up
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base, _ = tracemalloc.get_traced_memory()
        net.SGD((X, y), 1, 10, 0.5, n_threads=1)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - base


def test_an_epochs_allocations_do_not_grow_with_its_chunks(monkeypatch):
    # One epoch of 2,000 rows as 2 chunks and as 200 chunks (mini-batches of 10): the
    # per-epoch buffers (permutation, workspace, the copy of the parameters that a
    # diverging chunk is rolled back to) are made once, and each chunk allocates only
    # transient scalars and views. tracemalloc sees NumPy's buffers too.
    X, y = data(2000, 784, 10)
    flops = 6 * (784 * 30 + 30 * 10)
    few = _epoch_peak(monkeypatch, flops * 1000, X, y)
    many = _epoch_peak(monkeypatch, flops * 10, X, y)
    assert many < few + 64_000, f"peak {many} bytes with 200 chunks, {few} with 2"


# In a process of its own: once XLA's CPU client has started (a JAX peer in the same
# pytest process), glibc moves buffers of this size from mmap into its arenas, which
# keep them after free: the first 100 threads then grew RSS by 23 MB and the next
# hundreds by nothing, an allocator's cache, not a leak.
THREADS_CHILD = """
import threading
import numpy as np
from nnfast import kernels

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * {page}

a = np.random.default_rng(0).random((512, 512), dtype=np.float32)

def threads(count):
    for _ in range(count):
        t = threading.Thread(target=lambda: kernels.matmul(a, a, n_threads=1))
        t.start()
        t.join()

threads(5)
before = rss()
threads(100)
print(rss() - before)
"""


def test_threads_that_end_do_not_leave_their_buffers_behind():
    # GEMM packing buffers are per thread: a thread that multiplies large matrices and
    # then ends must give them back, or a server that trains on short-lived threads
    # grows without bound. 512 x 512 products pack ~0.5-1 MB per thread.
    child = subprocess.run([sys.executable, "-c", THREADS_CHILD.format(page=PAGE)],
                           capture_output=True, text=True, timeout=120)
    assert child.returncode == 0, child.stderr
    grown = int(child.stdout)
    assert grown < LEAK_BOUND, f"RSS grew by {grown / MB:.1f} MB over 100 short-lived threads"
