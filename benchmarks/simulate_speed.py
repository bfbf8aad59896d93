"""Simulator speed: rows per second from 20,000 to a million rows, and whether it is linear.

Run: .venv/bin/python benchmarks/simulate_speed.py [--sizes 20000,200000,1000000]
     [--repeats 3] [--readme] [--pythonpath DIR] [--timeout S]

Every size runs in a fresh Python process (so the peak memory reported is that size's
alone), which times, best of ``--repeats``:

* *simulate*: ``bayesresp.simulate(missions=12, rows=N, seed=1)``: every draw, the typed
  frame and the truth;
* *CSV + truth*: ``Simulation.write(out.csv, truth.json)``;
* *Parquet*: ``Simulation.write(out.parquet)``;

and reports its peak resident memory. Then ``bayesresp simulate --missions 12 --rows N
--seed 1 --out x.csv --truth t.json`` runs once, as a user runs it (a fresh process,
imports included): the command the issue timed.

*Per row vs first* is the simulator's time per row divided by that at the smallest size:
1.00 when time grows linearly with the rows. ``--pythonpath DIR`` runs everything against
another checkout (e.g. ``git worktree add /tmp/old <commit>``), for a before/after table
from one machine; ``--timeout`` gives up on a size after S seconds. ``--readme`` writes
the table between the markers in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _readme import write_between  # benchmarks/_readme.py, beside this script

HERE = Path(__file__).resolve().parent
README = HERE / "README.md"
BEGIN, END = "<!-- simulate-speed:begin -->", "<!-- simulate-speed:end -->"


def worker(rows: int, repeats: int, folder: Path) -> dict:
    """Time the simulator and the writers at ``rows`` rows, in this process."""
    import numpy as np

    import bayesresp

    best = {"simulate": np.inf, "csv": np.inf, "parquet": np.inf}
    for _ in range(repeats):
        t0 = time.perf_counter()
        sim = bayesresp.simulate(missions=12, rows=rows, seed=1)
        t1 = time.perf_counter()
        sim.write(folder / "sim.csv", folder / "truth.json")
        t2 = time.perf_counter()
        sim.write(folder / "sim.parquet")
        t3 = time.perf_counter()
        for key, s in zip(best, (t1 - t0, t2 - t1, t3 - t2), strict=True):
            best[key] = min(best[key], s)
        del sim
    return {
        "rows": rows,
        **best,
        "csv_mib": (folder / "sim.csv").stat().st_size / 2**20,
        "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "numpy": np.__version__,
    }


def run_size(rows: int, repeats: int, pythonpath: str | None, timeout: float) -> dict | None:
    """One size in fresh processes: the worker, then the command line."""
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, __file__, "--worker", str(rows), "--repeats", str(repeats)]
        try:
            out = subprocess.run(
                [*cmd, "--folder", tmp],
                env=env,
                capture_output=True,
                text=True,
                check=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            return None
        result = json.loads(out.stdout.strip().splitlines()[-1])
        t0 = time.perf_counter()
        cli = [sys.executable, "-m", "bayesresp", "simulate", "--missions", "12"]
        cli += ["--rows", str(rows), "--seed", "1", "--out", f"{tmp}/x.csv"]
        cli += ["--truth", f"{tmp}/t.json"]
        try:
            # From the temporary folder: `-m` puts the working folder first on the path.
            subprocess.run(cli, env=env, cwd=tmp, capture_output=True, check=True, timeout=timeout)
            result["cli"] = time.perf_counter() - t0
        except subprocess.TimeoutExpired:
            result["cli"] = None
    return result


def table(results: list[dict], repeats: int, label: str) -> str:
    first = results[0]["simulate"] / results[0]["rows"]
    lines = [
        f"{label} (best of {repeats}; Python {platform.python_version()}, numpy "
        f"{results[0]['numpy']}, {os.cpu_count()} cores):",
        "",
        "| rows | simulate | rows/s | per row vs first | CSV + truth | Parquet "
        "| `bayesresp simulate` (CSV + truth) | peak memory |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        cli = "–" if r.get("cli") is None else f"{r['cli']:.1f} s"
        lines.append(
            f"| {r['rows']:,} | {r['simulate']:.2f} s | {r['rows'] / r['simulate']:,.0f} "
            f"| {r['simulate'] / r['rows'] / first:.2f} | {r['csv']:.2f} s "
            f"({r['csv_mib']:.0f} MiB) | {r['parquet']:.2f} s | {cli} "
            f"| {r['peak_mib']:,.0f} MiB |"
        )
    return "\n".join(lines)


def write_readme(block: str, path: Path = README) -> None:
    write_between(path, BEGIN, END, block)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="20000,200000,1000000")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--pythonpath", default=None, help="run against another checkout")
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds per size")
    ap.add_argument("--readme", action="store_true", help="write the table into README.md")
    ap.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--folder", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.worker is not None:
        print(json.dumps(worker(args.worker, args.repeats, args.folder)))
        return
    results = []
    for rows in (int(s) for s in args.sizes.split(",")):
        r = run_size(rows, args.repeats, args.pythonpath, args.timeout)
        if r is None:
            print(f"{rows:,} rows: gave up after {args.timeout:.0f} s")
            break
        results.append(r)
        print(json.dumps(r), flush=True)
    if not results:
        return
    label = time.strftime("%Y-%m-%d") + (f", {args.pythonpath}" if args.pythonpath else "")
    block = table(results, args.repeats, label)
    print(block)
    if args.readme:
        write_readme(block)
        print(f"Written to {README.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
