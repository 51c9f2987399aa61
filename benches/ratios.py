"""Print the benchmark medians as a table of ratios against the same-run baseline.

    python -m pytest benches --benchmark-json=bench.json
    python benches/ratios.py bench.json

Each row pairs nnfast with the baseline measured with the same parameters;
'speed-up' is baseline median / nnfast median (> 1 means nnfast is faster). Epoch
benchmarks run on fewer samples than an epoch show the time scaled to 50,000.
"""
import json
import sys
from collections import defaultdict


def rows(report):
    groups = defaultdict(dict)
    for bench in report["benchmarks"]:
        info = dict(bench["extra_info"])
        impl = info.pop("impl")
        info.pop("isa", None)
        flops = info.pop("flops", None)
        info.pop("samples", None)
        info.pop("accuracy", None)  # an outcome of the run, not a parameter
        key = (bench["group"], bench["name"].split("[")[0]) + tuple(sorted(info.items()))
        # Runs over part of an epoch are scaled to the book's 50,000-sample epoch.
        scale = 50_000 / bench["extra_info"]["samples"] if "samples" in bench["extra_info"] else 1
        groups[key][impl] = (bench["stats"]["median"] * scale, flops)
    for key, by_impl in sorted(groups.items()):
        if "nnfast" not in by_impl:
            continue
        mine, flops = by_impl["nnfast"]
        for baseline, (theirs, _) in sorted(by_impl.items()):
            if baseline != "nnfast":
                yield key, baseline, mine, theirs, flops


def main(path):
    with open(path) as f:
        report = json.load(f)
    print(f"{'group':<12}{'case':<48}{'baseline':<10}{'nnfast':>12}{'baseline':>12}{'speed-up':>10}{'GFLOP/s':>9}")
    for key, baseline, mine, theirs, flops in rows(report):
        case = " ".join(f"{k}={v}" for k, v in key[2:])
        rate = f"{flops / mine / 1e9:9.1f}" if flops else " " * 9
        print(f"{key[0]:<12}{case:<48}{baseline:<10}{mine * 1e3:10.3f}ms{theirs * 1e3:10.3f}ms"
              f"{theirs / mine:9.2f}x{rate}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "bench.json")
