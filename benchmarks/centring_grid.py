"""Where hierarchical centring pays: a grid of one group term's signal.

Run: .venv/bin/python benchmarks/centring_grid.py [--readme]

Simulated three-level outcomes (cutpoints -0.8 and 0.8 on a logistic latent scale), 200
groups of 0.5 to 1.5 times ``n`` rows each (so sizes differ), a row covariate and a
group-level one (each with effect 0.5), group intercepts of sd ``tau``:
``resp ~ x + z + (1 | id)``. Each data set is fitted non-centred and centred
(``centring=False`` / ``True``, seed 1, 4 x 1,000 draws) and the table gives the term's
signal (:func:`bayesresp.inference.packing.level_signal`), min bulk ESS per second of
sampling, divergences, max r_hat, and what the default rule chooses
(``packing.CENTRE_SIGNAL`` for an innermost term). ``--readme`` writes the table between
the markers in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd
from _readme import publish  # benchmarks/_readme.py, beside this script

import bayesresp

BEGIN, END = "<!-- centring-grid:begin -->", "<!-- centring-grid:end -->"
FORMULA = "resp ~ x + z + (1 | id)"
GRID = [(5, 0.4), (5, 0.8), (5, 1.6), (15, 0.4), (15, 0.8), (15, 1.6), (40, 0.4), (40, 0.8)]
GRID += [(40, 1.6), (10, 1.0), (25, 0.6)]
LEVELS = ["no", "perhaps", "yes"]


def simulate(groups: int, n: int, tau: float, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sizes = rng.integers(max(2, n // 2), n * 3 // 2 + 1, groups)
    g = np.repeat(np.arange(groups), sizes)
    z, x = rng.normal(size=groups), rng.normal(size=len(g))
    latent = 0.5 * x + 0.5 * z[g] + rng.normal(0.0, tau, groups)[g] + rng.logistic(size=len(g))
    y = np.digitize(latent, [-0.8, 0.8])
    return pd.DataFrame(
        {
            "resp": pd.Categorical(np.array(LEVELS)[y], categories=LEVELS, ordered=True),
            "x": x,
            "z": z[g],
            "id": g.astype(str),
        }
    )


def signal(frame: pd.DataFrame) -> tuple[float, tuple[str, ...]]:
    from bayesresp.inference import fitting, packing
    from bayesresp.model.design import make_design
    from bayesresp.model.spec import ModelSpec

    spec = ModelSpec.coerce(FORMULA)
    data, codebook = fitting.prepare_data(frame, spec, None)
    design = make_design(data, spec.parsed, codebook, blocks=spec.blocks)
    return packing.level_signal(design)[0], packing.centred_terms(design, None)


def run(frame: pd.DataFrame, centring: bool) -> dict:
    fit = bayesresp.fit(frame, FORMULA, seed=1, progress=False, centring=centring)
    table = fit.summary()
    sampling = fit.meta["timings"]["sampling"]
    return {
        "ess_s": float(table["ess_bulk"].min()) / sampling,
        "div": int(fit.tree["sample_stats"]["diverging"].sum()),
        "r_hat": float(table["r_hat"].max()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readme", action="store_true", help="write the table into README.md")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    rows = []
    for n, tau in GRID:
        frame = simulate(200, n, tau)
        s, chosen = signal(frame)
        plain, centred = run(frame, False), run(frame, True)
        rows.append((n, tau, len(frame), s, plain, centred, "centred" if chosen else "non-centred"))
        print(rows[-1], flush=True)
    rows.sort(key=lambda r: r[3])
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} (200 groups; sorted by signal).",
        "",
        "| rows per group | tau | rows | signal | non-centred ESS/s | centred ESS/s | "
        "divergences (non-centred, centred) | max r_hat (non-centred, centred) | rule |",
        "|---:|---:|---:|---:|---:|---:|---|---|---|",
    ]
    for n, tau, size, s, plain, centred, rule in rows:
        lines.append(
            f"| {n} | {tau} | {size:,} | {s:.2f} | {plain['ess_s']:.0f} | {centred['ess_s']:.0f}"
            f" | {plain['div']}, {centred['div']} | {plain['r_hat']:.3f}, {centred['r_hat']:.3f}"
            f" | {rule} |"
        )
    publish("\n".join(lines), BEGIN, END, args.readme)


if __name__ == "__main__":
    main()
