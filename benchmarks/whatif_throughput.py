"""What-if throughput: profiles x posterior draws per second, against PyMC's own route.

Run: .venv/bin/python benchmarks/whatif_throughput.py [--profiles 1000] [--draws 4000]

The posterior is a real fit of models/hierarchical.toml to the embedded example (500
draws x 4 chains, then resampled with replacement to the requested number of draws, so
the prediction path sees exactly the shapes it would with a longer run). Timed: the
whole user call `fit.what_if(profiles)` (validation, design, linear predictor, level
probabilities) and `result.to_dataframe()`. For a ratio against a peer in the same run,
the same question is asked of PyMC with `pm.set_data` + `pm.sample_posterior_predictive`
on a subset, which is how a PyMC user would do it.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import xarray as xr

import bayesresp  # noqa: I001


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profiles", type=int, default=1000)
    ap.add_argument("--draws", type=int, default=4000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    data = bayesresp.load_example()
    fit = bayesresp.fit(data, "hierarchical", draws=500, tune=500, chains=4, seed=1, progress=False)
    # Resample the draws to the requested number, keeping 4 chains.
    post = fit.posterior
    rng = np.random.default_rng(0)
    per_chain = args.draws // 4
    idx = rng.integers(0, post.sizes["draw"], per_chain)
    fit.tree["posterior"] = xr.DataTree(
        post.isel(draw=idx).assign_coords(draw=np.arange(per_chain))
    )
    fit.__dict__.pop("draws", None)
    rows = rng.integers(0, len(data), args.profiles)
    profiles = data.iloc[rows].drop(columns=["response"]).reset_index(drop=True)
    profiles["profile"] = [f"p{i}" for i in range(len(profiles))]

    from bayesresp.whatif import check_profiles

    fit.draws  # noqa: B018  (flatten the posterior once, as any first query does)
    rows_out = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        result = fit.what_if(profiles)
        t1 = time.perf_counter()
        table = result.to_dataframe()
        t2 = time.perf_counter()
        check_profiles(fit, profiles)
        t3 = time.perf_counter()
        rows_out.append((t1 - t0, t2 - t1, t3 - t2))
    best = np.min(np.array(rows_out), axis=0)
    n = args.profiles * args.draws
    print(f"{args.profiles} profiles x {args.draws} draws (best of {args.repeats}):")
    print(
        f"  fit.what_if(profiles)    {best[0]:.2f} s  ({n / best[0] / 1e6:.1f} M "
        "profile-draws per second; validation and design alone "
        f"{best[2]:.2f} s)"
    )
    print(
        f"  result.to_dataframe()    {best[1]:.2f} s  (means and intervals of "
        f"{table.shape[0]} profile-levels x 3 quantities)"
    )


if __name__ == "__main__":
    main()
