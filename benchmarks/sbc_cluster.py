"""Simulation-based calibration of the hierarchical specification on the example's
covariates: wall time on local processes and on a two-worker Dask LocalCluster.

Run: .venv/bin/python benchmarks/sbc_cluster.py [--simulations 200] [--readme]

Both runs fit the same simulations (same seeds: their ranks must be equal, and the script
checks that they are), 200 draws after 200 tuning steps, one chain per fit. Each chunk
of simulations builds the model once (the hierarchical spec runs on the compiled kernel:
nothing to compile per chunk beyond packing). ``--readme`` writes the table between the
markers in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from _readme import write_between  # benchmarks/_readme.py, beside this script

import bayesresp

HERE = Path(__file__).resolve().parent
README = HERE / "README.md"
BEGIN, END = "<!-- sbc-cluster:begin -->", "<!-- sbc-cluster:end -->"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--simulations", type=int, default=200)
    parser.add_argument("--readme", action="store_true")
    args = parser.parse_args()
    data = bayesresp.load_example()
    kw = dict(simulations=args.simulations, draws=200, tune=200, n_posterior=99, seed=3)
    timings = {}
    started = time.perf_counter()
    local = bayesresp.sbc(data, "hierarchical", **kw)
    timings["local processes"] = time.perf_counter() - started

    from distributed import Client, LocalCluster

    cores = os.cpu_count() or 1
    with (
        LocalCluster(n_workers=cores, threads_per_worker=1, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        started = time.perf_counter()
        dask = bayesresp.sbc(data, "hierarchical", client=client, **kw)
        timings[f"Dask LocalCluster, {cores} workers"] = time.perf_counter() - started
    same = local.ranks.equals(dask.ranks)
    lines = [
        f"{args.simulations} simulations of the hierarchical spec on the example's covariates "
        f"(2,000 rows), {cores} cores; the two runs' ranks are "
        + ("identical." if same else "DIFFERENT (a bug)."),
        "",
        "| where | wall time | per simulation |",
        "|---|---|---|",
    ]
    for name, took in timings.items():
        lines.append(f"| {name} | {took:.0f} s | {took / args.simulations:.2f} s |")
    text = "\n".join(lines)
    print(text)
    if args.readme:
        write_between(README, BEGIN, END, text)
    if not same:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
