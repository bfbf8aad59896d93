"""What-if throughput: profiles x posterior draws per second.

Run: .venv/bin/python benchmarks/whatif_throughput.py [--profiles 1000] [--draws 4000]

The posterior is a real fit of models/hierarchical.toml to the embedded example (500
draws x 4 chains, then resampled with replacement to the requested number of draws, so
the prediction path sees exactly the shapes it would with a longer run). Timed: the
whole user call `fit.what_if(profiles)` (validation, design, linear predictor, level
probabilities) and `result.to_dataframe()`.

`measure()` is the whole measurement as a function (benchmarks/fit_speed.py calls it).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import xarray as xr

import bayesresp  # noqa: I001


def example_fit(draws: int = 500, tune: int = 500, seed: int = 1):
    """The posterior the measurement predicts from: the example, hierarchical spec."""
    data = bayesresp.load_example()
    return bayesresp.fit(
        data, "hierarchical", draws=draws, tune=tune, chains=4, seed=seed, progress=False
    )


def resample_draws(fit, draws: int, rng: np.random.Generator) -> None:
    """Resample the fit's posterior (in place) to ``draws`` draws in all, keeping 4 chains."""
    post = fit.posterior
    per_chain = draws // 4
    idx = rng.integers(0, post.sizes["draw"], per_chain)
    fit.tree["posterior"] = xr.DataTree(
        post.isel(draw=idx).assign_coords(draw=np.arange(per_chain))
    )
    fit.__dict__.pop("draws", None)


def measure(profiles: int = 1000, draws: int = 4000, repeats: int = 3, fit=None) -> dict:
    """Best-of-``repeats`` seconds of the what-if steps for ``profiles`` example rows.

    ``fit`` (a hierarchical fit of the example) is made when not given; its posterior
    is resampled in place to ``draws`` draws. Returns seconds for ``what_if`` (the whole
    call), ``design`` (validation and design of the profiles alone) and ``to_dataframe``,
    with the throughput in profile-draws per second.
    """
    from bayesresp.queries.whatif import check_profiles

    data = bayesresp.load_example()
    fit = example_fit() if fit is None else fit
    rng = np.random.default_rng(0)
    resample_draws(fit, draws, rng)
    rows = rng.integers(0, len(data), profiles)
    frame = data.iloc[rows].drop(columns=["response"]).reset_index(drop=True)
    frame["profile"] = [f"p{i}" for i in range(len(frame))]

    fit.arrays  # noqa: B018  (flatten the posterior once, as any first query does)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fit.what_if(frame)
        t1 = time.perf_counter()
        table = result.to_dataframe()
        t2 = time.perf_counter()
        check_profiles(fit, frame)
        t3 = time.perf_counter()
        times.append((t1 - t0, t2 - t1, t3 - t2))
    best = np.min(np.array(times), axis=0)
    return {
        "profiles": profiles,
        "draws": draws,
        "repeats": repeats,
        "what_if": float(best[0]),
        "to_dataframe": float(best[1]),
        "design": float(best[2]),
        "profile_draws_per_s": profiles * draws / float(best[0]),
        "table_rows": int(table.shape[0]),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profiles", type=int, default=1000)
    ap.add_argument("--draws", type=int, default=4000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    m = measure(args.profiles, args.draws, args.repeats)
    print(f"{m['profiles']} profiles x {m['draws']} draws (best of {m['repeats']}):")
    print(
        f"  fit.what_if(profiles)    {m['what_if']:.2f} s  "
        f"({m['profile_draws_per_s'] / 1e6:.1f} M profile-draws per second; validation "
        f"and design alone {m['design']:.2f} s)"
    )
    print(
        f"  result.to_dataframe()    {m['to_dataframe']:.2f} s  (means and intervals of "
        f"{m['table_rows']} profile-levels x 3 quantities)"
    )


if __name__ == "__main__":
    main()
