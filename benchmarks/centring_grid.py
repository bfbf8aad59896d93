"""Where hierarchical centring pays: a grid of signals and numbers of levels, one term and nested.

Run: .venv/bin/python benchmarks/centring_grid.py [--readme] [--only grid|seeds]

Simulated three-level outcomes (cutpoints -0.8 and 0.8 on a logistic latent scale),
``groups`` levels of 0.5 to 1.5 times ``n`` rows each (so sizes differ), a row covariate
and a group-level one (each with effect 0.5), group intercepts of sd ``tau``:
``resp ~ x + z + (1 | id)``; then nested terms, ``resp ~ x + (1 | lea/school)``, outer
levels of sd ``tau_outer`` over ``per`` inner levels each of sd ``tau``. Each data set is
fitted non-centred and with its innermost term centred (seed 1, 4 x 1,000 draws) and the
tables give the terms' signals (:func:`bayesresp.inference.packing.level_signal`), min
bulk ESS per second of sampling, divergences, max r_hat, and what the default rule
chooses (:func:`bayesresp.inference.packing.centre_threshold` of the innermost term's
levels); then the cells of many levels near the rule's lowest threshold again, at two
more data seeds (``--only grid`` or ``--only seeds`` runs one part). ``--readme``
writes the tables between their markers in benchmarks/README.md.
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
SEEDS_BEGIN, SEEDS_END = "<!-- centring-seeds:begin -->", "<!-- centring-seeds:end -->"
FORMULA = "resp ~ x + z + (1 | id)"
NESTED = "resp ~ x + (1 | lea/school)"
# (levels, rows per level, tau): 200 levels over rows and spreads, then the levels' axis
GRID = [(200, 5, 0.4), (200, 5, 0.8), (200, 5, 1.6), (200, 15, 0.4), (200, 15, 0.8)]
GRID += [(200, 15, 1.6), (200, 40, 0.4), (200, 40, 0.8), (200, 40, 1.6), (200, 10, 1.0)]
GRID += [(200, 25, 0.6), (50, 8, 0.837), (50, 8, 1.0), (50, 8, 1.225), (50, 8, 1.6)]
GRID += [(500, 8, 0.707), (500, 8, 0.837), (500, 8, 1.0)]
GRID += [(1000, 6, t) for t in (0.683, 0.816, 0.966, 1.155)]
GRID += [(2500, 6, t) for t in (0.683, 0.816, 0.966, 1.155)]
# (outer levels, inner levels per outer one, rows per inner level, tau_outer, tau)
NESTED_GRID = [(12, 5, 40, 0.3, 0.4), (40, 15, 13, 0.15, 0.72), (130, 18, 13, 0.15, 0.72)]
# (levels, rows per level, tau) at two more data seeds each: many levels near the
# threshold CENTRE_SIGNAL_MANY
SEEDS = (8, 9)
SEEDS_GRID = [(levels, 6, tau) for levels in (1000, 2500) for tau in (0.8, 0.9, 1.05)]
LEVELS = ["no", "perhaps", "yes"]


def _codes(latent: np.ndarray) -> pd.Categorical:
    """Three ordered levels cut from the latent scale at -0.8 and 0.8."""
    y = np.digitize(latent, [-0.8, 0.8])
    return pd.Categorical(np.array(LEVELS)[y], categories=LEVELS, ordered=True)


def simulate(groups: int, n: int, tau: float, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sizes = rng.integers(max(2, n // 2), n * 3 // 2 + 1, groups)
    g = np.repeat(np.arange(groups), sizes)
    z, x = rng.normal(size=groups), rng.normal(size=len(g))
    latent = 0.5 * x + 0.5 * z[g] + rng.normal(0.0, tau, groups)[g] + rng.logistic(size=len(g))
    return pd.DataFrame({"resp": _codes(latent), "x": x, "z": z[g], "id": g.astype(str)})


def simulate_nested(
    outer: int, per: int, n: int, tau_outer: float, tau: float, seed: int = 3
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    inner = outer * per
    sizes = rng.integers(max(2, n // 2), n * 3 // 2 + 1, inner)
    school = np.repeat(np.arange(inner), sizes)
    lea = school // per
    x = rng.normal(size=len(school))
    latent = 0.5 * x + rng.normal(0.0, tau_outer, outer)[lea]
    latent = latent + rng.normal(0.0, tau, inner)[school] + rng.logistic(size=len(school))
    return pd.DataFrame(
        {"resp": _codes(latent), "x": x, "lea": lea.astype(str), "school": school.astype(str)}
    )


def signal(frame: pd.DataFrame, formula: str = FORMULA) -> tuple[list[float], tuple[str, ...]]:
    """The terms' signals (outermost first) and the terms the default rule centres."""
    from bayesresp.inference import fitting, packing
    from bayesresp.model.design import make_design
    from bayesresp.model.spec import ModelSpec

    spec = ModelSpec.coerce(formula)
    data, codebook = fitting.prepare_data(frame, spec, None)
    design = make_design(data, spec.parsed, codebook, blocks=spec.blocks)
    return packing.level_signal(design), packing.centred_terms(design, None)


def run(frame: pd.DataFrame, centring: bool | str, formula: str = FORMULA) -> dict:
    fit = bayesresp.fit(frame, formula, seed=1, progress=False, centring=centring)
    table = fit.summary()
    sampling = fit.meta["timings"]["sampling"]
    return {
        "ess_s": float(table["ess_bulk"].min()) / sampling,
        "div": int(fit.tree["sample_stats"]["diverging"].sum()),
        "r_hat": float(table["r_hat"].max()),
    }


def cells(frame: pd.DataFrame, formula: str, inner: str) -> tuple:
    signals, chosen = signal(frame, formula)
    plain, centred = run(frame, False, formula), run(frame, inner, formula)
    rule = "centred" if inner in chosen else "non-centred"
    return signals, plain, centred, rule


HEAD = (
    "| divergences (non-centred, centred) | max r_hat (non-centred, centred) | rule |",
    "|---:|---|---|---|",
)


def row(head: str, signals: list[float], plain: dict, centred: dict, rule: str) -> str:
    return (
        f"| {head} | {', '.join(f'{v:.2f}' for v in signals)} | {plain['ess_s']:.0f}"
        f" | {centred['ess_s']:.0f} | {centred['ess_s'] / plain['ess_s']:.2f}"
        f" | {plain['div']}, {centred['div']} | {plain['r_hat']:.3f}, {centred['r_hat']:.3f}"
        f" | {rule} |"
    )


def grid(write: bool) -> None:
    rows = []
    for groups, n, tau in GRID:
        frame = simulate(groups, n, tau)
        rows.append(((groups, n, tau, len(frame)), *cells(frame, FORMULA, "id")))
        print(rows[-1], flush=True)
    rows.sort(key=lambda r: (r[0][0], r[1][0]))
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} (one term; sorted by levels, then signal).",
        "",
        "| levels | rows per level | tau | rows | signal | non-centred ESS/s | centred ESS/s"
        " | centred / non-centred " + HEAD[0],
        "|---:|---:|---:|---:|---:|---:|---:" + HEAD[1],
    ]
    for (groups, n, tau, size), *rest in rows:
        lines.append(row(f"{groups:,} | {n} | {tau} | {size:,}", *rest))
    lines += [
        "",
        "Nested terms, `resp ~ x + (1 | lea/school)`, the schools centred or not (the"
        " outer term non-centred in both):",
        "",
        "| outer levels | inner levels | rows per inner level | tau outer, inner | rows"
        " | signals (outer, inner) | non-centred ESS/s | inner centred ESS/s"
        " | centred / non-centred " + HEAD[0],
        "|---:|---:|---:|---|---:|---|---:|---:" + HEAD[1],
    ]
    for outer, per, n, tau_outer, tau in NESTED_GRID:
        frame = simulate_nested(outer, per, n, tau_outer, tau)
        result = cells(frame, NESTED, "lea:school")
        print((outer, per, n, *result), flush=True)
        head_cells = f"{outer} | {outer * per:,} | {n} | {tau_outer}, {tau} | {len(frame):,}"
        lines.append(row(head_cells, *result))
    publish("\n".join(lines), BEGIN, END, write)


def seeds(write: bool) -> None:
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} (one term, data seeds {SEEDS}).",
        "",
        "| levels | tau | data seed | signal | non-centred ESS/s | centred ESS/s"
        " | centred / non-centred " + HEAD[0],
        "|---:|---:|---:|---:|---:|---:" + HEAD[1],
    ]
    for groups, n, tau in SEEDS_GRID:
        for seed in SEEDS:
            result = cells(simulate(groups, n, tau, seed=seed), FORMULA, "id")
            print((groups, tau, seed, *result), flush=True)
            lines.append(row(f"{groups:,} | {tau} | {seed}", *result))
    publish("\n".join(lines), SEEDS_BEGIN, SEEDS_END, write)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readme", action="store_true", help="write the tables into README.md")
    parser.add_argument(
        "--only", choices=["grid", "seeds"], help="run one part (default: both)", default=None
    )
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    if args.only in (None, "grid"):
        grid(args.readme)
    if args.only in (None, "seeds"):
        seeds(args.readme)


if __name__ == "__main__":
    main()
