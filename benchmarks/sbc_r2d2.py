"""Simulation-based calibration of the default (r2d2) prior at full size.

Run: .venv/bin/python benchmarks/sbc_r2d2.py [--simulations 200] [--readme]

The hierarchical specification on a simulated data set of 6 missions and 300 rows:
truths drawn from the default prior (R2, the shares, the coefficients, the group sds,
the cutpoints), the model refitted to each simulated outcome (200 draws after 200
tuning steps, one chain), each truth ranked among 99 thinned posterior draws. The test
suite runs the same check with 40 simulations (tests/checks/test_r2d2_calibration.py);
this one has the power to see a small miscalibration. ``--readme`` writes the table of
the least uniform parameters between the markers in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from _readme import write_between  # benchmarks/_readme.py, beside this script

import bayesresp

HERE = Path(__file__).resolve().parent
README = HERE / "README.md"
BEGIN, END = "<!-- sbc-r2d2:begin -->", "<!-- sbc-r2d2:end -->"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--simulations", type=int, default=200)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--readme", action="store_true")
    args = parser.parse_args()
    data = bayesresp.simulate(missions=6, rows=300, seed=5).data
    started = time.perf_counter()
    result = bayesresp.sbc(
        data,
        "hierarchical",
        simulations=args.simulations,
        draws=200,
        tune=200,
        n_posterior=99,
        seed=args.seed,
    )
    took = time.perf_counter() - started
    table = result.uniformity().sort_values("p_value")
    flagged = result.miscalibrated()
    lines = [
        f"{args.simulations} simulations, {len(table)} parameters, {took:.0f} s; "
        f"miscalibrated at 1% (Bonferroni): {', '.join(flagged) if flagged else 'none'}.",
        "",
        "| parameter | chi2 | p_value | mean rank |",
        "|---|---|---|---|",
    ]
    for name, row in table.head(8).iterrows():
        lines.append(
            f"| `{name}` | {row['chi2']:.1f} | {row['p_value']:.3f} | {row['mean_rank']:.3f} |"
        )
    text = "\n".join(lines)
    print(text)
    if args.readme:
        write_between(README, BEGIN, END, text)


if __name__ == "__main__":
    main()
