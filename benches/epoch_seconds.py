"""Seconds per 50,000-sample epoch of W1, W2, W4, W5 (2,000 Fashion-MNIST samples a
round, median of 5 rounds after the warm-up rounds that planning takes), their dense
GFLOP/s and efficiency = dense GFLOP/s / (peak x threads), peak being the mean of
nnfast.peak_gflops(fresh=True) just before and just after each case's rounds, which
OUT.json keeps beside the seconds, with the team trials (plan.teams()).
Runs against whichever nnfast is importable, so two builds compare in one sitting:

    python benches/epoch_seconds.py before.json        # in the old build's venv
    python benches/epoch_seconds.py after.json [W1,W2]  # in the new one
    python benches/epoch_seconds.py out.json W1,W2 50000  # whole epochs a round

A 2,000-row round's bytes stay in the caches; a whole epoch reads its rows from
memory (39 MB of bytes), as training does.

Fashion-MNIST comes from ../shared/data beside the repository or $NNFAST_DATA."""
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import nnfast
from nnfast import ConvPoolLayer, FullyConnectedLayer, ReLU, SoftmaxLayer, datasets

HERE = Path(__file__).resolve().parent
FOLDER = Path(os.environ.get("NNFAST_DATA") or HERE / ".." / ".." / "shared" / "data")
data = datasets.load_fashion_mnist(FOLDER / "fashion-mnist", download=False)
ROWS = int(sys.argv[3]) if len(sys.argv) > 3 else 2000
X, y = data[0][:ROWS], data[1][:ROWS]
NETS = {
    "W1": (lambda: nnfast.Network([784, 30, 10], seed=0), 3.0, 4.794e9),
    "W2": (lambda: nnfast.Network([784, 100, 10], seed=0), 0.5, 15.98e9),
    "W4": (lambda: nnfast.Network([ConvPoolLayer((20, 1, 5, 5), (1, 28, 28), (2, 2)),
                                   FullyConnectedLayer(2880, 100), SoftmaxLayer(100, 10)],
                                  seed=0), 0.1, 144.3e9),
    "W5": (lambda: nnfast.Network([ConvPoolLayer((20, 1, 5, 5), (1, 28, 28), (2, 2), ReLU),
                                   ConvPoolLayer((40, 20, 5, 5), (20, 12, 12), (2, 2), ReLU),
                                   FullyConnectedLayer(640, 100, ReLU), SoftmaxLayer(100, 10)],
                                  seed=0), 0.03, 461.1e9),
}
CASES = [(w, mb, t) for w in (sys.argv[2].split(",") if len(sys.argv) > 2 else ("W1", "W2", "W4", "W5")) for mb, t in ((10, 1), (10, 2), (256, 2))]


def peak_now():
    """One core's float32 peak measured now (a build without `fresh`: its first)."""
    try:
        return nnfast.peak_gflops(fresh=True)
    except TypeError:
        return nnfast.peak_gflops()


peak = peak_now()
print(f"peak {peak:.1f} GFLOP/s a core", flush=True)
out = {"peak GFLOP/s": peak}
for name, mb, threads in CASES:
    make, eta, flops = NETS[name]
    net = make()
    data = net.samples((X.astype(net.dtype), y))  # checked once, as SGD(data, epochs) does
    # Warm-up: until the planner has chosen (each product's plan, then how many of
    # the threads the run uses: plan.teams, and its close calls timed again), as FFTW
    # leaves planning out of its times. W1's and W2's trials take 27-31 chunks, W4's
    # 27, W5's 31; a W1 round is one or two. (Older builds: the trials alone.)
    planner = getattr(nnfast, "plan", None)

    def epoch():
        net.SGD(data, 1, mb, eta, n_threads=threads, progress=False)

    if hasattr(planner, "run_until_chosen"):
        planner.run_until_chosen(epoch)
    else:
        for _ in range(40):
            epoch()
            trials = planner.teams() if hasattr(planner, "teams") else []
            if all(t["chosen"] is not None for t in trials):
                break
    trials = planner.teams() if hasattr(planner, "teams") else []
    # The peak beside the rounds, before and after: a core's clock moves with its
    # load, temperature and neighbours (40.7 and 47.9 GFLOP/s minutes apart on one
    # host), and each case's efficiency is against the peak of its own minutes.
    before = peak_now()
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        net.SGD(data, 1, mb, eta, n_threads=threads, progress=False)
        times.append((time.perf_counter() - t0) * 50000 / len(X))
    case_peak = (before + peak_now()) / 2
    seconds = float(np.median(times))
    out[f"{name} mb{mb} {threads}t"] = seconds
    out[f"{name} mb{mb} {threads}t peak GFLOP/s"] = case_peak
    gflops = flops / seconds / 1e9
    chosen = ["alone" if t.get("alone") else t["chosen"] for t in trials
              if t["n_threads"] == threads and t["chosen"]]
    print(name, mb, threads, f"{seconds:.3f} s", f"{gflops:.1f} GFLOP/s",
          f"efficiency {gflops / (case_peak * threads):.2f} at peak {case_peak:.1f}",
          *(["layer threads", chosen[-1]] if chosen else []), flush=True)
planner = getattr(nnfast, "plan", None)
if hasattr(planner, "teams"):
    out["teams"] = planner.teams()  # each run's candidates, their seconds, the one chosen
json.dump(out, open(sys.argv[1], "w"))
