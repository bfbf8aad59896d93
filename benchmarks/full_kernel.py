"""The paper's model on the compiled kernel against PyMC's graph, side by side in one run.

Run: .venv/bin/python benchmarks/full_kernel.py [--draws 1000] [--readme]
     .venv/bin/python benchmarks/full_kernel.py --spec hierarchical --family sratio [--readme]

With ``--spec`` and ``--family`` another shipped specification in another family (the
sequential model through the kernel's intervals of steps); ``--readme`` then writes
between that family's own markers.

The shipped ``full`` specification on the embedded example: five ``mo()`` terms,
mission, department and official intercepts, a varying slope correlated with the
mission intercept under an LKJ prior. It is
fitted twice with nutpie and the default priors, through bayesresp's compiled kernel and
through PyMC's graph (``kernel=False``), each in a fresh Python process, so that each
path starts as a user's new session does: the kernel loaded from Numba's disk cache, the
graph compiled. Reported per path: build, compile, sampling and total seconds
(``fit.meta["timings"]`` and the call's wall time), the minimum bulk ESS over the
coefficients, ``mo()`` totals, cutpoints and group sds, that ESS per second of the whole
call, divergences and the largest r_hat. ``--readme`` writes the table between the
markers in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from _readme import write_between  # benchmarks/_readme.py, beside this script

HERE = Path(__file__).resolve().parent
README = HERE / "README.md"
BEGIN, END = "<!-- full-kernel:begin -->", "<!-- full-kernel:end -->"
LABELS = {"kernel": "kernel", "pytensor": "PyMC graph (`kernel=False`)"}
FORMULA = "full"  # models/full.toml


def markers(family: str) -> tuple[str, str]:
    if family == "cumulative":
        return BEGIN, END
    return f"<!-- {family}-kernel:begin -->", f"<!-- {family}-kernel:end -->"


def worker(kernel: bool, draws: int, seed: int, spec: str, family: str) -> dict:
    """One fit in this process; what the table reports."""
    import bayesresp

    data = bayesresp.load_example()
    fit_function = bayesresp.fit  # loads PyMC and Numba: not timed, as in fit_speed.py
    model = bayesresp.ModelSpec.coerce(spec).with_response(family=family)
    started = time.perf_counter()
    fit = fit_function(
        data, model, kernel=kernel, draws=draws, tune=draws, seed=seed, progress=False
    )
    wall = time.perf_counter() - started
    table = fit.summary()
    # coefficients, mo() totals, cutpoints and group sds: not the r2d2 prior's own
    # parameters, the simplexes or the correlation
    keep = [
        name
        for name in table.index
        if table.loc[name, "block"] != "r2d2" and not name.startswith(("simplex(", "cor("))
    ]
    ess = table.loc[keep, "ess_bulk"]
    return {
        "path": fit.meta["log_density"],
        "timings": fit.meta["timings"],
        "wall": wall,
        "min_ess": float(ess.min()),
        "worst": str(ess.idxmin()),
        "divergent": int(fit.tree["sample_stats"]["diverging"].sum()),
        "max_rhat": float(table.loc[keep, "r_hat"].max()),
    }


def run(kernel: bool, draws: int, seed: int, spec: str, family: str) -> dict:
    args = [sys.executable, __file__, "--worker", "kernel" if kernel else "graph"]
    args += ["--draws", str(draws), "--seed", str(seed), "--spec", spec, "--family", family]
    done = subprocess.run(args, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"the {args[3]} fit failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def table(rows: list[dict], draws: int, seed: int, spec: str, family: str) -> str:
    import bayesresp

    lines = [
        f"Run of {date.today().isoformat()}: {platform.processor() or platform.machine()}, "
        f"bayesresp {bayesresp.__version__}; the `{spec}` specification in the {family} "
        f"family; nutpie, 4 chains x {draws:,} draws after "
        f"{draws:,} tuning steps, seed {seed}, default priors (r2d2), the example (2,000 "
        "rows). Each fit in a fresh process.",
        "",
        "| path | build s | compile s | sampling s | total s | min bulk ESS (worst) "
        "| ESS/s | divergent | max r_hat |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        t = r["timings"]
        lines.append(
            f"| {LABELS[r['path']]} | {t['build']:.2f} | {t['compile']:.2f} | {t['sampling']:.1f} "
            f"| {r['wall']:.1f} | {r['min_ess']:.0f} (`{r['worst']}`) "
            f"| {r['min_ess'] / r['wall']:.1f} | {r['divergent']} | {r['max_rhat']:.3f} |"
        )
    kernel, graph = rows
    ratio = (kernel["min_ess"] / kernel["wall"]) / (graph["min_ess"] / graph["wall"])
    lines += ["", f"Kernel / graph, min bulk ESS per second of the whole call: {ratio:.1f}x."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--spec", default=FORMULA, help="a shipped specification's name")
    parser.add_argument("--family", default="cumulative", help="cumulative, sratio or cratio")
    parser.add_argument("--readme", action="store_true")
    parser.add_argument("--worker", choices=("kernel", "graph"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        done = worker(args.worker == "kernel", args.draws, args.seed, args.spec, args.family)
        print(json.dumps(done))
        return
    rows = [run(k, args.draws, args.seed, args.spec, args.family) for k in (True, False)]
    text = table(rows, args.draws, args.seed, args.spec, args.family)
    print(text)
    if args.readme:
        write_between(README, *markers(args.family), text)


if __name__ == "__main__":
    main()
