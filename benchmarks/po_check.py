"""How often the proportional-odds check (``fit.po_check``) flags a covariate, over
repeated simulations with and without a category-specific effect: its false alarm rate
and its power.

Run: .venv/bin/python benchmarks/po_check.py [--simulations 20] [--readme]

Each simulation draws 800 rows in 8 missions (the simulator's defaults otherwise, with
severity's common effect off) in two versions from the same seed: under proportional
odds (severity's effect a common shift, grave 1.5 and serious 0.75 at every threshold)
and with severity category-specific (grave moves the thresholds by 1.5 + 3, 2, 1, 0,
-1, -2, -3 from the lowest to the highest: more often past silence, less often to
enforcement; serious by half that). ``response ~ severity + career_security + (1 | mission)`` is
fitted (300 draws after 300 tuning steps, 2 chains) and checked for severity and
career_security (proportional in both versions). A rate's Monte Carlo se is
sqrt(p (1 - p) / n) for n simulations: about 0.07 at p = 0.15 with 25.
``--readme`` writes the table between the markers in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from _readme import write_between  # benchmarks/_readme.py, beside this script

import bayesresp

HERE = Path(__file__).resolve().parent
README = HERE / "README.md"
BEGIN, END = "<!-- po-check:begin -->", "<!-- po-check:end -->"
FORMULA = "response ~ severity + career_security + (1 | mission)"
#: grave's common shift in the proportional version (serious: half)
PROPORTIONAL = 1.5
#: grave's threshold shifts in the non-proportional version (serious: half of them): the
#: same mean, tilted by 1 per threshold
GRAVE = tuple(PROPORTIONAL + s for s in (3.0, 2.0, 1.0, 0.0, -1.0, -2.0, -3.0))


def simulate(seed: int, proportional: bool) -> pd.DataFrame:
    """One data set of the benchmark (and of tests/checks/test_po_check.py)."""
    grave = [PROPORTIONAL] * 7 if proportional else list(GRAVE)
    sim = bayesresp.simulate(
        missions=8,
        rows=800,
        seed=seed,
        effects={"severity": {"total": 0.0, "simplex": [0.3, 0.3, 0.4]}},
        category_specific={"severity": {"grave": grave, "serious": [g / 2 for g in grave]}},
    )
    return sim.data


def one(seed: int) -> list[dict]:
    rows = []
    for proportional in (True, False):
        data = simulate(seed, proportional)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            fit = bayesresp.fit(
                data, FORMULA, draws=300, tune=300, chains=2, seed=seed, progress=False
            )
            result = fit.po_check(["severity", "career_security"])
        for x, r in result.table.iterrows():
            rows.append(
                {
                    "seed": seed,
                    "data": "proportional" if proportional else "severity category-specific",
                    "covariate": x,
                    "verdict": r["verdict"],
                    "elpd_diff": r["elpd_diff"],
                    "se": r["se"],
                }
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--simulations", type=int, default=20)
    parser.add_argument("--first-seed", type=int, default=100)
    parser.add_argument("--readme", action="store_true")
    args = parser.parse_args()
    started = time.perf_counter()
    records = []
    for i in range(args.simulations):
        records += one(args.first_seed + i)
        print(f"simulation {i + 1}/{args.simulations} done", flush=True)
    frame = pd.DataFrame(records)
    n = args.simulations
    table = (
        frame.groupby(["data", "covariate"])
        .agg(
            fail=("verdict", lambda v: np.mean(v == "fail")),
            warn_or_fail=("verdict", lambda v: np.mean(v != "ok")),
            median_elpd_diff=("elpd_diff", "median"),
            median_se=("se", "median"),
        )
        .reset_index()
    )
    minutes = (time.perf_counter() - started) / 60
    lines = [
        f"{n} simulations per version, {minutes:.0f} min on this machine; 'fail': the "
        "check's verdict that proportional odds is doubtful, 'warn or fail': any flag "
        f"(Monte Carlo se of a rate p: sqrt(p (1 - p) / {n})).",
        "",
        "| data | covariate | fail | warn or fail | median elpd diff (se) |",
        "|---|---|---|---|---|",
    ]
    for _, r in table.iterrows():
        lines.append(
            f"| {r['data']} | {r['covariate']} | {r['fail']:.2f} | {r['warn_or_fail']:.2f} "
            f"| {r['median_elpd_diff']:+.1f} ({r['median_se']:.1f}) |"
        )
    text = "\n".join(lines)
    print(text)
    if args.readme:
        write_between(README, BEGIN, END, text)


if __name__ == "__main__":
    main()
