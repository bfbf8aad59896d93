"""Missing covariates summed out (missing="model") against dropping the rows
(missing="drop"), over repeated simulations: coverage of the 90% intervals and their
width.

Run: .venv/bin/python benchmarks/missing_covariates.py [--simulations 20] [--readme]

Each simulation draws 500 rows in 8 missions from the model of the test
(tests/inference/test_missing_covariates.py: severity, background and hierarchy level,
mission intercepts; the simulator's other effects off) with background missing in about
30% of the rows, at random given the mission and the hierarchy level, and fits both ways
(300 draws after 400 tuning steps, 4 chains); the data do not identify officials, so no
gap is filled from an official's other rows. Coverage is counted per coefficient and
simulation; with 20 simulations and 5 background coefficients (100 intervals, not
independent within a simulation) its Monte Carlo se is about 3 percentage points or
more. ``--readme`` writes the table between the markers in benchmarks/README.md.
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
from bayesresp.data.simulate import DEFAULT_EFFECTS

HERE = Path(__file__).resolve().parent
README = HERE / "README.md"
BEGIN, END = "<!-- missing-covariates:begin -->", "<!-- missing-covariates:end -->"
FORMULA = "response ~ severity + background + hierarchy_level + (1 | mission)"
KEEP = ("severity", "background", "hierarchy_level")


def one(seed: int) -> pd.DataFrame:
    effects = {k: None for k in DEFAULT_EFFECTS if k not in KEEP}
    sim = bayesresp.simulate(
        missions=8,
        rows=500,
        seed=seed,
        missing={"background": 0.3},
        effects=effects,
        sd={"mission:department": 0.0, "official_id": 0.0},
    )
    # without official_id, no gap is filled from the official's other rows: every one is
    # summed out (the comparison is of summing out against dropping)
    data = sim.data.drop(columns="official_id")
    truth = pd.Series(sim.truth["coefficients"])
    rows = []
    for how in ("model", "drop"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            f = bayesresp.fit(
                data, FORMULA, missing=how, draws=300, tune=400, seed=seed, progress=False
            )
        s = f.summary()
        names = [n for n in s.index if n in truth]
        for n in names:
            rows.append(
                {
                    "seed": seed,
                    "missing": how,
                    "coefficient": n,
                    "covered": bool(s.loc[n, "q5"] <= truth[n] <= s.loc[n, "q95"]),
                    "width": float(s.loc[n, "q95"] - s.loc[n, "q5"]),
                    "error": float(s.loc[n, "mean"] - truth[n]),
                }
            )
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--simulations", type=int, default=20)
    parser.add_argument("--readme", action="store_true")
    args = parser.parse_args()
    started = time.perf_counter()
    table = pd.concat([one(1000 + i) for i in range(args.simulations)], ignore_index=True)
    took = time.perf_counter() - started
    table["which"] = np.where(
        table["coefficient"].str.startswith("background"), "background", "the others"
    )
    out = (
        table.groupby(["which", "missing"])
        .agg(
            coverage=("covered", "mean"),
            width=("width", "mean"),
            bias=("error", "mean"),
            rmse=("error", lambda e: float(np.sqrt(np.mean(np.square(e))))),
        )
        .reset_index()
    )
    lines = [
        f"{args.simulations} simulations (500 rows, 8 missions, background missing in about "
        "30% of the rows at random given mission and hierarchy level); nominal coverage 0.90; "
        f"{took / 60:.0f} min in all.",
        "",
        "| coefficients | missing= | coverage of 90% intervals | mean width | mean error | RMSE |",
        "|---|---|---|---|---|---|",
    ]
    for _, r in out.iterrows():
        lines.append(
            f"| {r['which']} | {r['missing']} | {r['coverage']:.2f} | {r['width']:.2f} | "
            f"{r['bias']:+.3f} | {r['rmse']:.3f} |"
        )
    text = "\n".join(lines)
    print(text)
    if args.readme:
        write_between(README, BEGIN, END, text)


if __name__ == "__main__":
    main()
