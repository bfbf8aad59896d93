"""The coders' reading kernel: how NUTS samples the model of coders at default settings
under the logistic reading (the package's, :func:`bayesresp.maths.rater.log_reading`)
and under the discretised normal reading it replaced
(``R[j, k] proportional to exp(-(k - j - l)^2 / (2 s^2))``, written out here as the
comparator), on data simulated under each.

Run: .venv/bin/python benchmarks/coders_reading.py [--readme] [--quick] [--only PART]

Two data sets, each fitted with ``response ~ severity + background + (1 | mission)``,
default settings (4 chains x 1,000 draws after 1,000 tuning steps, target_accept 0.9):

- "README": ``simulate(missions=6, rows=300, seed=S, coders=3, double_coded=0.3)`` for
  data seeds S = 5, 6, 7, 8, fit seed 4: the README's example, a third of the responses
  coded twice;
- "recovery": the recovery test's data (tests/inference/test_coders.py:
  ``simulate(missions=8, rows=700, seed=31, coders=4, double_coded=1.0, coder_sd=0.5,
  coder_spread=0.5, coder_spread_sd=0.6, ambiguous=0.1)``), every response coded twice
  by coders of spreads from about 0.25 to 2 levels, fit seeds 4 and 7.

Three parts (``--only kernel|centring|default``):

- ``kernel``: each data set under both readings, fitted under both, the leniencies
  non-centred (the layer before the centring rule), so that only the reading differs;
- ``centring``: the README data under the logistic reading with coders that differ
  less (``coder_sd`` 0.05 to 0.5, data seeds 5 and 6), fitted with the leniencies
  centred and non-centred, beside the signal
  (:func:`bayesresp.maths.rater.leniency_signal`) the rule reads;
- ``default``: the package as it is (logistic reading, the centring rule) on the
  ``kernel`` part's data, simulated under the logistic reading.

Each table row: the divergences, leapfrog steps per draw, min bulk ESS and max r_hat
over the summary's parameters, and seconds. ``--readme`` writes the tables between
their markers in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import time
import warnings

import numpy as np
import pandas as pd
from _readme import markdown, publish  # benchmarks/_readme.py, beside this script

import bayesresp
import bayesresp.maths.rater as rater
from bayesresp.model import graph

MARKERS = {
    part: (f"<!-- coders-{part}:begin -->", f"<!-- coders-{part}:end -->")
    for part in ("kernel", "centring", "default")
}
FORMULA = "response ~ severity + background + (1 | mission)"
LOGISTIC = rater.log_reading


def normal_reading(leniency, spread, levels, xp=rater.NUMPY):
    """The discretised normal reading: ``log R[j, k]``, rows normalised over k."""
    steps = np.arange(levels, dtype=float)
    offset = steps[None, :] - steps[:, None]  # written minus true
    if xp is rater.NUMPY:
        leniency, spread = np.asarray(leniency, float), np.asarray(spread, float)
    d = offset - leniency[..., None, None]
    score = -(d**2) / (2.0 * spread[..., None, None] ** 2)
    return score - rater._logsumexp(score, -1, xp)[..., None]


KERNELS = {"logistic": LOGISTIC, "normal": normal_reading}


RULE = graph.leniency_centred


@contextlib.contextmanager
def leniency(form: str | None):
    """The coders' leniencies sampled ``"centred"``, ``"non-centred"``, or (None) as the
    rule says, inside the block."""
    if form is not None:
        graph.leniency_centred = lambda design: (form == "centred", RULE(design)[1])
    try:
        yield
    finally:
        graph.leniency_centred = RULE


@contextlib.contextmanager
def reading(kind: str):
    """Every caller of ``log_reading`` (simulator, graph, the stored log-likelihood,
    checks) reads with ``kind`` inside the block: the module's function is replaced, and
    the modules that bound it at import too. (A model of coders is compiled afresh for
    every fit, never reused: nothing compiled under one reading serves the other.)"""
    from bayesresp.checks import coders as checks_coders
    from bayesresp.inference import coders as inference_coders

    bound = (rater, checks_coders, inference_coders)
    for module in bound:
        module.log_reading = KERNELS[kind]
    try:
        yield
    finally:
        for module in bound:
            module.log_reading = LOGISTIC


def cases(quick: bool) -> list[tuple[str, dict, int]]:
    readme = [
        ("README", dict(missions=6, rows=300, seed=s, coders=3, double_coded=0.3), 4)
        for s in ((5,) if quick else (5, 6, 7, 8))
    ]
    recovery = dict(
        missions=8,
        rows=700,
        seed=31,
        coders=4,
        double_coded=1.0,
        coder_sd=0.5,
        coder_spread=0.5,
        coder_spread_sd=0.6,
        ambiguous=0.1,
    )
    return readme + [("recovery", recovery, f) for f in ((4,) if quick else (4, 7))]


def one(data_kind: str, fit_kind: str, name: str, args: dict, seed: int, form=None) -> dict:
    with reading(data_kind):
        sim = bayesresp.simulate(**args)
    with reading(fit_kind), leniency(form):
        t = time.perf_counter()
        fit = bayesresp.fit(sim.data, FORMULA, seed=seed, progress=False)
        seconds = time.perf_counter() - t
    stats = fit.tree["sample_stats"]
    s = fit.summary()
    return {
        "data": f"{name} (seed {args['seed']})",
        "fit seed": seed,
        "data read as": data_kind,
        "fit reads as": fit_kind,
        "leniency": "centred" if fit.meta["coders"]["leniency_centred"] else "non-centred",
        "signal": round(fit.meta["coders"]["leniency_signal"], 2),
        "divergences": int(stats["diverging"].values.sum()),
        "steps/draw": round(float(stats["n_steps"].values.mean()), 1),
        "min bulk ESS": int(s["ess_bulk"].min()),
        "max r_hat": round(float(s["r_hat"].max()), 4),
        "seconds": round(seconds, 1),
    }


def run_part(part: str, quick: bool) -> pd.DataFrame:
    rows = []

    def add(*args, **kw):
        rows.append(one(*args, **kw))
        print(rows[-1], flush=True)

    if part == "kernel":
        for name, args, seed in cases(quick):
            for data_kind in ("normal", "logistic"):
                for fit_kind in ("normal", "logistic"):
                    add(data_kind, fit_kind, name, args, seed, form="non-centred")
    elif part == "centring":
        for sd in (0.05, 0.1, 0.2, 0.5):
            for s in (5,) if quick else (5, 6):
                args = dict(missions=6, rows=300, seed=s, coders=3, double_coded=0.3, coder_sd=sd)
                for form in ("non-centred", "centred"):
                    add("logistic", "logistic", f"README, coder_sd {sd}", args, 4, form=form)
    else:
        for name, args, seed in cases(quick):
            add("logistic", "logistic", name, args, seed)
    return pd.DataFrame(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--readme", action="store_true", help="write the tables into README.md")
    ap.add_argument("--quick", action="store_true", help="one seed of each data set")
    ap.add_argument("--only", choices=sorted(MARKERS), help="one part")
    a = ap.parse_args()
    warnings.filterwarnings("ignore")
    for part in [a.only] if a.only else list(MARKERS):
        publish(render(part, run_part(part, a.quick)), *MARKERS[part], a.readme)


def render(part: str, table: pd.DataFrame) -> str:
    """A part's table as it goes into benchmarks/README.md (the kernel part without the
    leniencies' form, non-centred throughout, and with its divergences summed)."""
    stamp = time.strftime("%Y-%m-%d")
    head = f"Measured {stamp} (4 chains x 1,000 draws, default settings).\n\n"
    if part != "kernel":
        return head + markdown(table)
    table = table.drop(columns=["leniency", "signal"], errors="ignore")
    keys = ["data read as", "fit reads as"]
    totals = table.groupby(keys)["divergences"].agg(["sum", "max"]).reset_index()
    return (
        head
        + markdown(table)
        + "\n\nDivergences in all, and at most in one fit:\n\n"
        + markdown(totals)
    )


if __name__ == "__main__":
    main()
