"""Print the benchmark medians as a table of ratios against the same-run baselines.

    python -m pytest benches --benchmark-json=bench.json
    python benches/ratios.py bench.json

Each row pairs nnfast with a baseline measured with the same parameters;
'speed-up' is baseline median / nnfast median (> 1 means nnfast is faster). Epoch
benchmarks run on fewer samples than an epoch show the time scaled to 50,000.
Where a benchmark recorded its dense flops, 'GFLOP/s' is nnfast's rate and 'of peak'
its efficiency, GFLOP/s / (the machine's measured peak per core x threads), then the
baseline's: the yardstick that means the same on any CPU.
"""
import json
import sys
from collections import defaultdict

EPOCH_SAMPLES = 50_000
# What describes a run rather than the case it ran: kept out of the row's key.
RUN_INFO = ("impl", "isa", "flops", "samples", "peak_gflops", "accuracy",
            "overhead_per_task_ms")


class Run:
    """One benchmark's median seconds (scaled to a whole epoch where it ran part of
    one) and, when it recorded its flops, its GFLOP/s and efficiency."""

    def __init__(self, bench):
        info = bench["extra_info"]
        # Runs over part of an epoch are scaled to the book's 50,000-sample epoch, their
        # flops with them, so the rate is the one measured.
        scale = EPOCH_SAMPLES / info["samples"] if "samples" in info else 1
        self.seconds = bench["stats"]["median"] * scale
        flops = info.get("flops")
        self.gflops = flops * scale / self.seconds / 1e9 if flops else None
        threads = info.get("threads") or 1
        peak = info.get("peak_gflops")
        self.efficiency = self.gflops / (peak * threads) if self.gflops and peak else None


def rows(report):
    groups = defaultdict(dict)
    for bench in report["benchmarks"]:
        info = bench["extra_info"]
        case = tuple(sorted((k, v) for k, v in info.items() if k not in RUN_INFO))
        groups[(bench["group"], bench["name"].split("[")[0]) + case][info["impl"]] = Run(bench)
    for key, by_impl in sorted(groups.items()):
        if "nnfast" not in by_impl:
            continue
        for baseline, theirs in sorted(by_impl.items()):
            if baseline != "nnfast":
                yield key, baseline, by_impl["nnfast"], theirs


def _rate(run):
    if run.gflops is None:
        return f"{'':9}{'':8}"
    return f"{run.gflops:9.1f}" + (f"{run.efficiency:8.3f}" if run.efficiency else f"{'':8}")


def main(path):
    with open(path) as f:
        report = json.load(f)
    table = [(key, " ".join(f"{k}={v}" for k, v in key[2:]), baseline, mine, theirs)
             for key, baseline, mine, theirs in rows(report)]
    width = max([len(case) + 1 for _, case, _, _, _ in table] + [48])  # a column apart
    print(f"{'group':<12}{'case':<{width}}{'baseline':<10}{'nnfast':>12}{'baseline':>12}"
          f"{'speed-up':>10}{'GFLOP/s':>9}{'of peak':>8}{'baseline':>9}")
    for key, case, baseline, mine, theirs in table:
        theirs_efficiency = f"{theirs.efficiency:9.3f}" if theirs.efficiency else ""
        print(f"{key[0]:<12}{case:<{width}}{baseline:<10}{mine.seconds * 1e3:10.3f}ms"
              f"{theirs.seconds * 1e3:10.3f}ms{theirs.seconds / mine.seconds:9.2f}x"
              f"{_rate(mine)}{theirs_efficiency}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "bench.json")
