"""Per-fit overhead: everything a fit costs but its sampling, fit after fit in one
process (what a worker of a batch pays per task once it has done its first).

Run: .venv/bin/python benchmarks/fit_overhead.py [--fits 10] [--readme]

Each fit is the hierarchical specification on a fresh simulated data set (2,000 rows, 12
missions; a different seed per fit, so nothing is cached between fits but what a worker
keeps: imports, the compiled kernel), 200 draws after 200 tuning steps, one chain.
Per fit: the wall time of ``bayesresp.fit`` and ``fit.meta["timings"]`` (``build``:
checks, design, packing; ``compile``: loading the compiled kernel; ``sampling``;
``finish``: the per-row log-likelihood). The overhead is the wall time minus the
sampling. ``--readme`` writes the table between the markers in
benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from _readme import write_between  # benchmarks/_readme.py, beside this script

import bayesresp

HERE = Path(__file__).resolve().parent
README = HERE / "README.md"
BEGIN, END = "<!-- fit-overhead:begin -->", "<!-- fit-overhead:end -->"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fits", type=int, default=10)
    parser.add_argument("--readme", action="store_true")
    args = parser.parse_args()
    rows = []
    for i in range(args.fits):
        data = bayesresp.simulate(missions=12, rows=2000, seed=100 + i).data
        started = time.perf_counter()
        fit = bayesresp.fit(
            data, "hierarchical", draws=200, tune=200, chains=1, seed=i, progress=False
        )
        wall = time.perf_counter() - started
        t = fit.meta["timings"]
        rows.append((wall, t["build"], t["compile"], t["sampling"], t["finish"]))
        print(f"fit {i + 1}: wall {wall:.2f} s, " + ", ".join(f"{k} {v:.2f}" for k, v in t.items()))
    table = np.array(rows)
    later = table[1:]
    overhead = later[:, 0] - later[:, 3]
    lines = [
        f"{args.fits} fits of the hierarchical spec (2,000 simulated rows each, 200 + 200 "
        f"draws, one chain) in one process, on the compiled kernel ({fit.meta['log_density']}).",
        "",
        "| | first fit | later fits (median) | later fits (max) |",
        "|---|---|---|---|",
    ]
    names = [
        "wall",
        "build (checks, design, packing)",
        "compile (kernel load)",
        "sampling",
        "finish",
    ]
    for j, name in enumerate(names):
        lines.append(
            f"| {name} | {table[0, j]:.2f} s | {np.median(later[:, j]):.2f} s | "
            f"{later[:, j].max():.2f} s |"
        )
    lines.append(
        f"| **overhead** (wall - sampling) | {table[0, 0] - table[0, 3]:.2f} s | "
        f"{np.median(overhead):.2f} s | {overhead.max():.2f} s |"
    )
    text = "\n".join(lines)
    print(text)
    if args.readme:
        write_between(README, BEGIN, END, text)


if __name__ == "__main__":
    main()
