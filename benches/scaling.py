"""Thread scaling of the book's conv nets: seconds per 50,000-sample epoch of W4 at
mini-batch 10 and W5 at mini-batch 256 on 1, 2, 4, 8, 16 threads (those the machine has),
nnfast and, in the same run, PyTorch when it is importable. Each cell also gives the
efficiency (the model's dense GFLOP/s over the measured peak x threads), the speed-up
over the first thread count (one thread by default) and the team the run's trial chose
(each layer's threads, or "alone": one thread, as a run asked for one). Prints the Markdown table the README's scaling section holds:

    python benches/scaling.py [--threads 1,2,4,8,16] [--samples 2000] [--rounds 3]

The networks and the PyTorch peer are test_epoch.py's (W4, W5). Fashion-MNIST comes from
../shared/data beside the repository or $NNFAST_DATA."""
import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import nnfast
from nnfast import datasets, flops

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from test_epoch import CONV_NETS, nnfast_conv_epoch, torch, torch_conv_epoch  # noqa: E402

CASES = (("W4", 10), ("W5", 256))
EPOCH = 50_000


def thread_counts(text):
    counts = [int(t) for t in text.split(",")]
    if any(t < 1 for t in counts):
        raise argparse.ArgumentTypeError(f"--threads must be positive ints, got {text!r}")
    return counts


def seconds(run, rounds, samples):
    """Median seconds of `rounds` timed runs after one warm-up, scaled to a 50k epoch."""
    run()
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * EPOCH / samples


def chosen_team():
    """The team the last run's trial chose (each case plans afresh: test_epoch.planned),
    or "-" for a run on one thread, which has no trial."""
    trials = nnfast.plan.teams()
    if not trials or trials[-1]["chosen"] is None:
        return "-"
    return "alone" if trials[-1]["alone"] else ",".join(map(str, trials[-1]["chosen"]))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    cores = len(os.sched_getaffinity(0))
    parser.add_argument("--threads", type=thread_counts,
                        default=[t for t in (1, 2, 4, 8, 16) if t <= cores],
                        help="thread counts, comma-separated (default: 1,2,4,8,16 up to the cores)")
    parser.add_argument("--samples", type=int, default=2000, help="samples per timed run")
    parser.add_argument("--rounds", type=int, default=3, help="timed runs per cell (median)")
    args = parser.parse_args(argv)
    largest = max(mini_batch_size for _, mini_batch_size in CASES)
    if args.samples < largest:
        parser.error(f"--samples must be at least {largest} (a whole mini-batch), got {args.samples}")

    folder = Path(os.environ.get("NNFAST_DATA") or HERE / ".." / ".." / "shared" / "data")
    data = datasets.load_fashion_mnist(folder / "fashion-mnist", download=False)
    X, y = data.X_train[:args.samples], data.y_train[:args.samples]
    peak = nnfast.peak_gflops()
    info = nnfast.info()
    print(f"ISA {info['isa']}, {cores} cores, measured peak {peak:.0f} GFLOP/s per core (float32); "
          f"{args.samples} samples a run, median of {args.rounds}")
    print("| workload | threads | team | nnfast s | efficiency | speed-up | PyTorch s "
          "| nnfast vs PyTorch |")
    print("|---|---|---|---|---|---|---|---|")
    for name, mini_batch_size in CASES:
        spec = CONV_NETS[name]
        dense = flops.epoch_flops(nnfast.Network(spec["layers"]()), EPOCH)
        first = None
        for threads in args.threads:
            ours = seconds(nnfast_conv_epoch(spec, X, y, mini_batch_size, threads), args.rounds,
                           len(X))
            first = first or ours
            team = chosen_team()
            efficiency = dense / ours / 1e9 / (peak * threads)
            theirs = (seconds(torch_conv_epoch(spec, X, y, mini_batch_size, threads), args.rounds,
                              len(X)) if torch is not None else None)
            peer = f"{theirs:.2f} | {theirs / ours:.1f}x" if theirs else "- | -"
            print(f"| {name} mb{mini_batch_size} | {threads} | {team} | {ours:.2f} | "
                  f"{efficiency:.3f} | {first / ours:.2f}x | {peer} |", flush=True)


if __name__ == "__main__":
    main()
