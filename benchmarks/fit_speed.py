"""Fit speed: bayesresp against bambi and statsmodels, side by side in one run.

Run: ``make bench`` (or ``.venv/bin/python benchmarks/fit_speed.py [--quick]``).

What is measured, on the embedded example (2,000 rows) and on simulated data sets of
500 to 50,000 rows (``--sizes``), all with the shipped ``hierarchical`` specification
(every default covariate, ``(1 | mission/department)``, logit link):

* **bayesresp** (``bayesresp.fit``, nutpie): seconds for build (checks, design, model
  graph), compile, sampling and finish, from ``fit.meta["timings"]``; the wall time of
  the whole call; the rows it fitted (distinct rows when it compresses). By default
  nutpie samples bayesresp's compiled kernel (``bayesresp.inference.kernel``: compile is then the
  time to load it from Numba's disk cache); on data sets of up to ``--graph-max-rows``
  rows it is also fitted through PyMC's graph (``kernel=False``), for comparison.
* **bambi**, ``family="cumulative"`` on the same data and the same model, with PyMC's
  NUTS (bambi's default) and with nutpie: build is ``bmb.Model(...)`` plus
  ``model.build()``; sampling is PyMC's own sampling clock
  (``posterior.attrs["sampling_time"]``); compile is the rest of ``model.fit`` (graph
  rewriting and compilation, initialisation, starting the chain processes).
* **Stan** (pystan 3, from the ``bench`` extra) on the same data and model in brms's
  parameterisation (``brms::make_stancode`` for ``cumulative("logit")`` with group
  intercepts, written out here: the design matrix centred, ordered thresholds of the
  centred predictors, ``Intercept ~ student_t(3, 0, 2.5)`` as brms, coefficients and sds
  with bambi's priors above, group effects non-centred): compile is ``stan.build`` (a
  C++ compile on first use; later processes find the model in httpstan's cache, as
  bayesresp's kernel is found in Numba's), sampling is ``model.sample``.
* For every fit: the minimum bulk ESS over the fixed-effect coefficients, cutpoints and
  group standard deviations (the same parameters for every tool), divided by the wall
  time including build and compile; divergences; the largest r_hat over those
  parameters.
* The non-hierarchical floor: statsmodels' ``OrderedModel`` (logit, maximum likelihood)
  on the ``baseline`` specification's fixed-effect design, next to bayesresp's fit of
  ``baseline``.
* Refits: a second bayesresp fit of the same specification to new simulated data of the
  same shape, in the same process: was the compiled model reused, what did it cost?
* What-if throughput (benchmarks/whatif_throughput.py's ``measure``).

Every fit runs in a fresh Python process (a worker: this script with ``--worker``), one
at a time, so each tool starts cold in the same way and a fit that runs past
``--peer-timeout`` minutes is stopped and reported as not run. Timings on a shared
2-core machine are noisy and differ between machines; the ratios of minimum ESS per
second measured side by side in one run are what the table is for.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date
from importlib import metadata
from pathlib import Path
from typing import Any

from _readme import write_between  # benchmarks/_readme.py, beside this script

HERE = Path(__file__).resolve().parent
README = HERE / "README.md"
BEGIN, END = "<!-- fit-speed:begin -->", "<!-- fit-speed:end -->"
SPEC, BASELINE = "hierarchical", "baseline"
PEERS = ("bambi", "bambi-nutpie", "stan", "statsmodels")
LABELS = {
    "bayesresp": "bayesresp (nutpie, kernel)",
    "bayesresp-graph": "bayesresp (nutpie, PyMC graph)",
    "bambi": "bambi (PyMC NUTS)",
    "bambi-nutpie": "bambi (nutpie)",
    "stan": "Stan (pystan, brms's parameterisation)",
    "stan-warmup": "Stan warm-up (the model built, not sampled)",
    "statsmodels": "statsmodels OrderedModel (ML)",
    "bayesresp-baseline": "bayesresp (nutpie)",
    "bayesresp-warmup": "bayesresp warm-up (300 rows, 1 chain x 20 draws)",
}
WARMUP_ROWS = 300
VERSIONS = (
    "bayesresp",
    "pymc",
    "pytensor",
    "nutpie",
    "numba",
    "numpy",
    "arviz",
    "bambi",
    "formulae",
    "pystan",
    "httpstan",
    "statsmodels",
)


# -- options ----------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="500,2000,10000,50000", help="simulated data sizes (rows)")
    ap.add_argument("--no-example", action="store_true", help="leave out the 2,000-row example")
    ap.add_argument("--missions", type=int, default=12, help="missions in simulated data")
    ap.add_argument("--data-seed", type=int, default=1, help="seed of the simulated data")
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--tune", type=int, default=1000)
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1, help="sampler seed, the same for every tool")
    ap.add_argument("--target-accept", type=float, default=0.9, help="the same for every tool")
    ap.add_argument("--peers", default=",".join(PEERS), help="comma list of " + ", ".join(PEERS))
    ap.add_argument("--peer-timeout", type=float, default=30.0, help="minutes per fit")
    ap.add_argument(
        "--peer-max-rows",
        type=int,
        default=None,
        help="run bambi and Stan only on data sets of at most this many rows (all by default)",
    )
    ap.add_argument(
        "--graph-max-rows",
        type=int,
        default=2000,
        help="also fit PyMC's graph (kernel=False) on data sets of at most this many rows",
    )
    ap.add_argument("--whatif-profiles", type=int, default=1000)
    ap.add_argument("--whatif-draws", type=int, default=4000)
    ap.add_argument("--no-whatif", action="store_true")
    ap.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 500 rows only, 100 draws after 100 tuning, small what-if",
    )
    ap.add_argument(
        "--write-readme",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="write the table into benchmarks/README.md (default: yes, except with --quick)",
    )
    ap.add_argument("--worker", metavar="TASK.json", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.quick:
        args.sizes, args.no_example = "500", True
        args.draws = args.tune = 100
        args.whatif_profiles, args.whatif_draws = 100, 400
    if args.write_readme is None:
        args.write_readme = not args.quick
    args.peers = [p for p in args.peers.split(",") if p and p != "none"]
    unknown = set(args.peers) - set(PEERS)
    if unknown:
        ap.error(f"unknown peer(s): {', '.join(sorted(unknown))}")
    return args


# -- diagnostics (shared by the main process and the workers) -------------------------
def posterior_diagnostics(posterior, sample_stats, names: list[str]) -> dict[str, Any]:
    """Minimum bulk ESS, largest r_hat (over ``names``) and divergences of one fit."""
    import arviz as az

    sub = posterior[names]
    ess = az.ess(sub, method="bulk")
    rhat = az.rhat(sub)
    lowest = min(names, key=lambda v: float(ess[v].min()))
    return {
        "min_ess": float(ess[lowest].min()),
        "min_ess_of": lowest,
        "max_rhat": max(float(rhat[v].max()) for v in names),
        "divergences": int(sample_stats["diverging"].sum()),
        "n_params": int(sum(sub[v].isel(chain=0, draw=0).size for v in names)),
    }


def bayesresp_names(posterior) -> list[str]:
    """Coefficients, cutpoints (of the reference case, as bambi's thresholds) and sds."""
    return ["b", "cutpoints", *sorted(v for v in posterior.data_vars if v.startswith("sd["))]


def bambi_names(posterior) -> list[str]:
    """Common terms, thresholds and group sds: everything but the group effects."""
    return [v for v in posterior.data_vars if "|" not in v or v.endswith("_sigma")]


# -- workers: one fit each, in a fresh process ----------------------------------------
def run_worker(task_path: str) -> None:
    task = json.loads(Path(task_path).read_text())
    import pandas as pd

    data = pd.read_pickle(task["data"])
    fits = {
        "bayesresp": worker_bayesresp,
        "bayesresp-baseline": worker_bayesresp,
        "bayesresp-graph": worker_bayesresp,
        "bayesresp-warmup": worker_bayesresp,
        "bambi": worker_bambi,
        "bambi-nutpie": worker_bambi,
        "stan": worker_stan,
        "stan-warmup": worker_stan,
        "statsmodels": worker_statsmodels,
    }
    result = fits[task["tool"]](data, task)
    Path(task["out"]).write_text(json.dumps(result))


def _bayesresp_fit(data, task: dict) -> tuple[Any, dict[str, Any]]:
    import bayesresp

    # Since the package took its layers, `import bayesresp` is light and the first use of
    # `bayesresp.fit` loads PyMC and Numba; load them before the clock starts, as the
    # import did before, so that "total" is the fit's time as it always was (the peers'
    # imports are not timed either).
    fit_function = bayesresp.fit
    t0 = time.perf_counter()
    fit = fit_function(
        data,
        task["spec"],
        draws=task["draws"],
        tune=task["tune"],
        chains=task["chains"],
        cores=task["cores"],
        seed=task["seed"],
        target_accept=task["target_accept"],
        progress=False,
        kernel=task.get("kernel"),
    )
    total = time.perf_counter() - t0
    timings = dict(fit.meta.get("timings") or {})
    out = {
        "total": total,
        "build": timings.get("build"),
        "compile": timings.get("compile"),
        "sampling": timings.get("sampling"),
        "finish": timings.get("finish"),
        "rows_fitted": fit.meta.get("rows_fitted", len(data)),
        "compiled": fit.meta.get("compiled"),
    }
    if out["sampling"] is None:  # a package without fit.meta["timings"]
        out["sampling"] = fit.tree["posterior"].attrs.get("sampling_time")
    post = fit.tree["posterior"].to_dataset()
    out |= posterior_diagnostics(post, fit.tree["sample_stats"].to_dataset(), bayesresp_names(post))
    return fit, out


def worker_bayesresp(data, task: dict) -> dict[str, Any]:
    """The timed fit (a fresh process: nothing compiled yet); then, with ``refit``, a
    second fit of new data of the same shape in the same process."""
    _, out = _bayesresp_fit(data, task)
    if task.get("refit"):
        import pandas as pd

        _, out["refit"] = _bayesresp_fit(pd.read_pickle(task["refit"]), task)
    return out


def bambi_priors() -> dict:
    """As close to bayesresp's defaults as bambi allows (thresholds: bambi's default)."""
    import bambi as bmb

    return {
        "common": bmb.Prior("Normal", mu=0, sigma=1),
        "group_specific": bmb.Prior("Normal", mu=0, sigma=bmb.Prior("HalfNormal", sigma=1)),
    }


def worker_bambi(data, task: dict) -> dict[str, Any]:
    import warnings

    import bambi as bmb

    warnings.filterwarnings("ignore", message="The intercept is omitted")
    t0 = time.perf_counter()
    model = bmb.Model(task["formula"], data, family="cumulative", priors=bambi_priors())
    model.build()
    t1 = time.perf_counter()
    idata = model.fit(
        draws=task["draws"],
        tune=task["tune"],
        chains=task["chains"],
        cores=task["cores"],
        random_seed=task["seed"],
        inference_method="nutpie" if task["tool"] == "bambi-nutpie" else "pymc",
        nuts={"target_accept": task["target_accept"]},
        progressbar=False,
        compute_convergence_checks=False,
    )
    t2 = time.perf_counter()
    post = idata["posterior"].to_dataset()
    sampling = float(post.attrs.get("sampling_time", float("nan")))
    out = {
        "build": t1 - t0,
        "compile": (t2 - t1) - sampling,
        "sampling": sampling,
        "finish": None,
        "total": t2 - t0,
        "rows_fitted": len(data),
    }
    stats = idata["sample_stats"].to_dataset()
    return out | posterior_diagnostics(post, stats, bambi_names(post))


# brms's cumulative("logit") model with group intercepts (brms::make_stancode's
# parameterisation, written here): the coefficients act on the centred design matrix, the
# ordered thresholds are those of the centred predictors (the reference case's are
# generated: Intercept + means_X . b), group effects non-centred.
STAN_PROGRAM = """
data {
  int<lower=1> N;
  int<lower=2> K;
  int<lower=0> P;
  int<lower=0> G;  // group terms (intercepts)
  int<lower=0> L;  // their levels, all terms together
  array[N] int<lower=1, upper=K> y;
  matrix[N, P] X;
  array[G, N] int<lower=1, upper=L> level;  // each row's level in each term
  array[L] int<lower=1, upper=G> term_of;  // each level's term
}
transformed data {
  vector[P] means_X;
  matrix[N, P] Xc;
  for (i in 1:P) {
    means_X[i] = mean(X[, i]);
    Xc[, i] = X[, i] - means_X[i];
  }
}
parameters {
  vector[P] b;
  ordered[K - 1] Intercept;
  vector<lower=0>[G] sd;
  vector[L] z;
}
model {
  vector[N] mu = Xc * b;
  vector[L] r = z .* sd[term_of];
  for (g in 1:G) {
    mu += r[level[g]];
  }
  target += ordered_logistic_lpmf(y | mu, Intercept);
  target += normal_lpdf(b | 0, 1);
  target += student_t_lpdf(Intercept | 3, 0, 2.5);
  target += normal_lpdf(sd | 0, 1);
  target += std_normal_lpdf(z);
}
generated quantities {
  vector[K - 1] cutpoints = Intercept + dot_product(means_X, b);
}
"""


def stan_data(data, outcome: str, covariates: list[str], groups: list[str]) -> dict[str, Any]:
    """The peers' rows as the Stan program's data: treatment-coded covariates (the first
    category the reference, as bayesresp codes them), each group term's levels numbered
    one after another."""
    import numpy as np
    import pandas as pd

    X = pd.get_dummies(data[covariates], drop_first=True, dtype=float)
    level, term_of, offset = [], [], 0
    for g, column in enumerate(groups):
        codes, uniques = pd.factorize(data[column], sort=True)
        level.append((codes + offset + 1).tolist())
        term_of += [g + 1] * len(uniques)
        offset += len(uniques)
    y = data[outcome]
    return {
        "N": len(data),
        "K": len(y.cat.categories),
        "P": X.shape[1],
        "G": len(groups),
        "L": offset,
        "y": (y.cat.codes.to_numpy() + 1).tolist(),
        "X": X.to_numpy(),
        "level": np.asarray(level, dtype=int).reshape(len(groups), len(data)).tolist(),
        "term_of": term_of,
    }


def worker_stan(data, task: dict) -> dict[str, Any]:
    """One Stan fit. httpstan keeps every fit on disk, keyed by model, data, seed and
    settings, and a second run of the same would load it instead of sampling: the model's
    stored fits are removed before sampling. Its chains run in as many processes as the
    other tools get cores (httpstan's pool would take every CPU). With ``warmup`` only
    the model is built, untimed in the table as bayesresp's warm-up compile is."""
    import concurrent.futures
    import multiprocessing
    import shutil

    import httpstan.cache
    import httpstan.services_stub
    import numpy as np
    import stan
    import xarray as xr

    t0 = time.perf_counter()
    inputs = stan_data(data, task["outcome"], task["covariates"], task["groups"])
    t1 = time.perf_counter()
    model = stan.build(STAN_PROGRAM, data=inputs, random_seed=task["seed"])
    t2 = time.perf_counter()
    if task.get("warmup"):
        return {"compile": t2 - t1, "total": t2 - t0}
    fits = httpstan.cache.model_directory(model.model_name) / "fits"
    shutil.rmtree(fits, ignore_errors=True)
    httpstan.services_stub.executor = concurrent.futures.ProcessPoolExecutor(
        max_workers=task["cores"],
        mp_context=multiprocessing.get_context("fork"),
        initializer=httpstan.services_stub.init_worker,
    )
    fit = model.sample(
        num_chains=task["chains"],
        num_samples=task["draws"],
        num_warmup=task["tune"],
        delta=task["target_accept"],
    )
    t3 = time.perf_counter()
    C, S = fit.num_chains, task["draws"]

    def draws(name):  # (chain, draw, ...); pystan's last axis is draw * C + chain
        values = np.asarray(fit[name])
        return np.moveaxis(values.reshape(*values.shape[:-1], S, C), (-1, -2), (0, 1))

    def dataset(names):
        return xr.Dataset(
            {
                n: (("chain", "draw", *[f"{n}_dim_{i}" for i in range(v.ndim - 2)]), v)
                for n in names
                for v in [draws(n)]
            }
        )

    post = dataset(["b", "cutpoints", "sd"])
    # a sampler statistic comes as (1, draws x chains), chains interleaved
    diverging = np.asarray(fit["divergent__"]).reshape(S, C).T != 0
    stats = xr.Dataset({"diverging": (("chain", "draw"), diverging)})
    out = {
        "build": t1 - t0,
        "compile": t2 - t1,
        "sampling": t3 - t2,
        "finish": None,
        "total": t3 - t0,
        "rows_fitted": len(data),
    }
    return out | posterior_diagnostics(post, stats, ["b", "cutpoints", "sd"])


def worker_statsmodels(data, task: dict) -> dict[str, Any]:
    """Maximum likelihood on the baseline formula's fixed-effect design (treatment-coded,
    the first category the reference, as bayesresp codes it)."""
    import pandas as pd
    from statsmodels.miscmodels.ordinal_model import OrderedModel

    t0 = time.perf_counter()
    covariates = data[task["covariates"]]
    X = pd.get_dummies(covariates, drop_first=True, dtype=float)
    model = OrderedModel(data[task["outcome"]], X, distr="logit")
    t1 = time.perf_counter()
    res = model.fit(method="bfgs", maxiter=5000, disp=False)
    t2 = time.perf_counter()
    return {
        "build": t1 - t0,
        "compile": None,
        "sampling": t2 - t1,
        "finish": None,
        "total": t2 - t0,
        "rows_fitted": len(data),
        "converged": bool(res.mle_retvals.get("converged", False)),
        "n_params": int(len(res.params)),
    }


# -- data -------------------------------------------------------------------------------
@dataclass
class DataSet:
    name: str
    frame: Any  # the validated DataFrame, as bayesresp gets it
    peer_frame: Any  # the same rows prepared for bambi and statsmodels
    distinct: int


def formula_columns(spec_name: str) -> tuple[str, list[str], list[str]]:
    """(outcome, covariates, group factors) of a shipped specification."""
    import bayesresp

    parsed = bayesresp.ModelSpec.coerce(spec_name).parsed
    groups = sorted({n for g in parsed.groups for n in g.factor})
    covariates = [v for v in parsed.variables if v != parsed.outcome and v not in groups]
    return parsed.outcome, covariates, groups


def peer_formula() -> str:
    """The hierarchical formula as bambi reads it: nested groups written out, a nested
    factor as one column (``mission:department`` in formulae would make every mission x
    department combination a level, most of them empty)."""
    import bayesresp

    parsed = bayesresp.ModelSpec.coerce(SPEC).parsed
    text = str(parsed)
    for g in parsed.groups:
        text = text.replace(f"| {g.label})", f"| {nested_column(g.factor)})")
    return text


def stan_task() -> dict[str, Any]:
    """What the Stan worker reads from a task: the hierarchical specification's outcome,
    covariates and group columns (as the peers' frame has them)."""
    import bayesresp

    outcome, covariates, _ = formula_columns(SPEC)
    groups = bayesresp.ModelSpec.coerce(SPEC).parsed.groups
    return {
        "outcome": outcome,
        "covariates": covariates,
        "groups": [nested_column(g.factor) for g in groups],
    }


def nested_column(factor: tuple[str, ...]) -> str:
    return "_".join(factor)


def peer_frame(frame):
    """The rows as the peers get them: only the formula's columns; categories in the
    codebook's order, marked ordered so that formulae keeps that order (the first level
    present is the reference, as in bayesresp), unused ones dropped; continuous
    covariates centred and scaled (as bayesresp's design does); group factors, and one
    column per nested factor, as plain strings."""
    import pandas as pd

    import bayesresp

    outcome, covariates, _ = formula_columns(SPEC)
    out = pd.DataFrame(index=frame.index)
    for col in [outcome, *covariates]:
        x = frame[col]
        if isinstance(x.dtype, pd.CategoricalDtype):
            out[col] = x.cat.as_ordered().cat.remove_unused_categories()
        else:
            x = x.astype(float)
            out[col] = (x - x.mean()) / x.std()
    for g in bayesresp.ModelSpec.coerce(SPEC).parsed.groups:
        parts = [frame[f].astype(str) for f in g.factor]
        joined = parts[0].str.cat(parts[1:], sep=":") if len(parts) > 1 else parts[0]
        out[nested_column(g.factor)] = joined.astype(object)
    return out.reset_index(drop=True)


def make_dataset(name: str, frame) -> DataSet:
    outcome, covariates, groups = formula_columns(SPEC)
    distinct = len(frame[[outcome, *covariates, *groups]].drop_duplicates())
    return DataSet(name, frame, peer_frame(frame), distinct)


def simulated(rows: int, missions: int, seed: int):
    import bayesresp

    return bayesresp.validate(bayesresp.simulate(missions=missions, rows=rows, seed=seed).data)


def shape_of(frame) -> tuple:
    """What the compiled model depends on: levels present, group level counts."""
    outcome, covariates, groups = formula_columns(SPEC)
    levels = tuple(
        tuple(sorted(map(str, frame[c].dropna().unique())))
        for c in [outcome, *covariates]
        if frame[c].dtype.name == "category"
    )
    nested = tuple(len(frame[list(groups[: i + 1])].drop_duplicates()) for i in range(len(groups)))
    return levels, nested


def same_shape_data(reference, missions: int, first_seed: int, tries: int = 30):
    """New data with the reference's rows, levels and group counts, and where it came
    from: the first simulation seed among ``tries`` that gives that shape, else the
    reference's rows with the outcome shuffled (small data rarely repeat a shape)."""
    import numpy as np

    want = shape_of(reference)
    for seed in range(first_seed, first_seed + tries):
        frame = simulated(len(reference), missions, seed)
        if shape_of(frame) == want:
            return frame, f"simulated, same shape (seed {seed})"
    outcome = formula_columns(SPEC)[0]
    frame = reference.copy()
    rng = np.random.default_rng(first_seed)
    shuffled = frame[outcome].iloc[rng.permutation(len(frame))]
    frame[outcome] = shuffled.set_axis(frame.index)
    return frame, "the same rows, outcome shuffled"


def datasets(args) -> list[DataSet]:
    import bayesresp

    out = []
    if not args.no_example:
        out.append(make_dataset("example", bayesresp.validate(bayesresp.load_example())))
    for n in (int(s) for s in args.sizes.split(",") if s):
        out.append(make_dataset(f"simulated {n:,}", simulated(n, args.missions, args.data_seed)))
    return out


# -- running workers --------------------------------------------------------------------
class Runner:
    """Runs one worker at a time, with a time cap, and remembers peers that ran over."""

    def __init__(self, args, workdir: Path):
        self.args = args
        self.workdir = workdir
        self.over: dict[str, str] = {}

    def settings(self) -> dict[str, Any]:
        a = self.args
        return {
            "draws": a.draws,
            "tune": a.tune,
            "chains": a.chains,
            "cores": a.cores,
            "seed": a.seed,
            "target_accept": a.target_accept,
        }

    def run(self, tool: str, data_path: Path, **extra) -> dict[str, Any]:
        if tool in self.over:
            return {"status": f"not run (over {self.over[tool]})"}
        stem = f"{data_path.stem}-{tool}"
        task = {"tool": tool, "data": str(data_path), "out": str(self.workdir / f"{stem}.json")}
        task |= self.settings() | extra
        task_path = self.workdir / f"{stem}-task.json"
        task_path.write_text(json.dumps(task))
        log = self.workdir / f"{stem}.log"
        status = self._spawn(task_path, log)
        if status != "ok":
            if status.startswith("not run"):
                self.over[tool] = f"{self.args.peer_timeout:g} min at a smaller size"
            return {"status": status}
        return json.loads(Path(task["out"]).read_text()) | {"status": "ok"}

    def _spawn(self, task_path: Path, log: Path) -> str:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", str(task_path)]
        limit = self.args.peer_timeout * 60
        with log.open("w") as fh:
            proc = subprocess.Popen(
                cmd, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True
            )
            try:
                rc = proc.wait(timeout=limit)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)  # the worker and its chain processes
                proc.wait()
                return f"not run (over {self.args.peer_timeout:g} min)"
        if rc != 0:
            tail = log.read_text().strip().splitlines()[-1:] or ["no output"]
            print(f"    worker failed (exit {rc}): {tail[0]}\n    log: {log}")
            return f"failed ({tail[0][:60]})"
        return "ok"


def measure_dataset(ds: DataSet, runner: Runner, args, refit_frame=None) -> dict[str, Any]:
    """Every tool on one data set, one after the other."""
    outcome, covariates, _ = formula_columns(BASELINE)
    slug = ds.name.replace(" ", "-").replace(",", "")
    raw, peer = runner.workdir / f"{slug}.pkl", runner.workdir / f"{slug}-peer.pkl"
    ds.frame.to_pickle(raw)
    ds.peer_frame.to_pickle(peer)
    extra: dict[str, Any] = {"spec": SPEC}
    if refit_frame is not None:
        refit_path = runner.workdir / f"{slug}-refit.pkl"
        refit_frame.to_pickle(refit_path)
        extra["refit"] = str(refit_path)
    formula = peer_formula()
    results = {"bayesresp": runner.run("bayesresp", raw, **extra)}
    report(ds, "bayesresp", results["bayesresp"])
    if len(ds.frame) <= args.graph_max_rows:
        results["bayesresp-graph"] = runner.run("bayesresp-graph", raw, spec=SPEC, kernel=False)
        report(ds, "bayesresp-graph", results["bayesresp-graph"])
    for tool in ("bambi", "bambi-nutpie", "stan"):
        if tool in args.peers:
            if args.peer_max_rows is not None and len(ds.frame) > args.peer_max_rows:
                results[tool] = {"status": f"not run (over {args.peer_max_rows:,} rows)"}
            else:
                peer_extra = stan_task() if tool == "stan" else {"formula": formula}
                results[tool] = runner.run(tool, peer, **peer_extra)
            report(ds, tool, results[tool])
    results["bayesresp-baseline"] = runner.run("bayesresp-baseline", raw, spec=BASELINE)
    report(ds, "bayesresp-baseline", results["bayesresp-baseline"])
    if "statsmodels" in args.peers:
        results["statsmodels"] = runner.run(
            "statsmodels", peer, outcome=outcome, covariates=covariates
        )
        report(ds, "statsmodels", results["statsmodels"])
    return results


def report(ds: DataSet, tool: str, r: dict[str, Any]) -> None:
    """One progress line per fit."""
    name = LABELS[tool] + (" [baseline]" if tool.endswith("baseline") else "")
    if r["status"] != "ok":
        print(f"  [{ds.name}] {name}: {r['status']}", flush=True)
        return
    if tool == "statsmodels":
        parts = [f"build {_s(r['build'])}", f"optimisation {_s(r['sampling'])}"]
        parts += [f"total {_s(r['total'])}", f"converged {r['converged']}"]
    else:
        parts = [f"{k} {_s(r.get(k))}" for k in ("build", "compile", "sampling", "total")]
        parts.append(f"min ESS/s {r['min_ess'] / r['total']:.1f} ({r['min_ess_of']})")
        parts.append(f"divergences {r['divergences']}, max r_hat {r['max_rhat']:.3f}")
    parts.append(f"{r['n_params']} parameters compared" if "min_ess" in r else "")
    print(f"  [{ds.name}] {name}: " + ", ".join(p for p in parts if p), flush=True)


# -- the table --------------------------------------------------------------------------
def _s(x: float | None) -> str:
    """Seconds for the table."""
    if x is None or x != x:
        return "–"
    return f"{x:.2f}" if x < 10 else f"{x:.1f}" if x < 100 else f"{x:.0f}"


def _ess_per_s(r: dict[str, Any]) -> float | None:
    return r["min_ess"] / r["total"] if r.get("status") == "ok" and "min_ess" in r else None


def main_rows(ds: DataSet, results: dict[str, dict]) -> list[str]:
    """Rows of the hierarchical table for one data set."""
    ours = _ess_per_s(results["bayesresp"])
    rows = []
    for tool in ("bayesresp", "bayesresp-graph", "bambi", "bambi-nutpie", "stan"):
        if tool not in results:
            continue
        r = results[tool]
        head = f"| {ds.name} | {len(ds.frame):,} | {ds.distinct:,} | {LABELS[tool]} |"
        if r["status"] != "ok":
            rows.append(head + f" {r['status'].replace('|', '/')} |" + " |" * 10)
            continue
        rate = _ess_per_s(r)
        per_k = r["sampling"] / (ds.distinct / 1000) if r.get("sampling") is not None else None
        ratio = "–" if tool == "bayesresp" or not (ours and rate) else f"{ours / rate:.1f}×"
        cells = [
            f"{r['rows_fitted']:,}",
            _s(r["build"]),
            _s(r["compile"]),
            _s(r["sampling"]),
            _s(r["total"]),
            _s(per_k),
            f"{r['min_ess']:.0f} (`{r['min_ess_of']}`)".replace("|", "\\|"),
            f"{rate:.1f}",
            str(r["divergences"]),
            f"{r['max_rhat']:.3f}",
            ratio,
        ]
        rows.append(head + " " + " | ".join(cells) + " |")
    return rows


MAIN_HEADER = [
    "| data | rows | distinct rows | tool | rows fitted | build s | compile s | sampling s "
    "| total s | sampling s per 1k distinct rows | min bulk ESS | min bulk ESS/s "
    "| divergences | max r_hat | bayesresp ÷ this, ESS/s |",
    "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
]


def floor_rows(ds: DataSet, results: dict[str, dict]) -> list[str]:
    """The non-hierarchical floor: bayesresp's baseline fit beside OrderedModel."""
    ours = results["bayesresp-baseline"]
    sm = results.get("statsmodels", {"status": "not run (--peers)"})

    def total(r):
        return _s(r["total"]) if r["status"] == "ok" else r["status"]

    ratio = (
        f"{ours['total'] / sm['total']:.1f}×"
        if ours["status"] == "ok" and sm["status"] == "ok"
        else "–"
    )
    ess = f"{_ess_per_s(ours):.1f}" if _ess_per_s(ours) else "–"
    return [f"| {ds.name} | {len(ds.frame):,} | {total(ours)} | {ess} | {total(sm)} | {ratio} |"]


FLOOR_HEADER = [
    "| data | rows | bayesresp `baseline`, total s | its min bulk ESS/s "
    "| statsmodels `OrderedModel` (ML), total s | bayesresp ÷ statsmodels, time |",
    "|---|---:|---:|---:|---:|---:|",
]


def refit_lines(ds: DataSet, first: dict[str, Any], source: str) -> list[str]:
    if first.get("status") != "ok" or "refit" not in first:
        return [f"Refit: not measured ({first.get('status')})."]
    second = first["refit"]
    return [
        "| fit | data | compiled | compile s | total s |",
        "|---|---|---|---:|---:|",
        f"| first | {ds.name} | {first.get('compiled') or '–'} | {_s(first['compile'])} "
        f"| {_s(first['total'])} |",
        f"| second, same process | {source} | {second.get('compiled') or '–'} "
        f"| {_s(second['compile'])} | {_s(second['total'])} |",
    ]


def whatif_lines(w: dict[str, Any] | None) -> list[str]:
    if w is None:
        return ["What-if throughput: not measured (--no-whatif)."]
    return [
        f"What-if throughput (benchmarks/whatif_throughput.py, {w['profiles']:,} profiles × "
        f"{w['draws']:,} draws, best of {w['repeats']}): `fit.what_if` {w['what_if']:.2f} s "
        f"({w['profile_draws_per_s'] / 1e6:.1f} M profile-draws/s; validation and design "
        f"{w['design']:.2f} s), `to_dataframe` {w['to_dataframe']:.2f} s.",
    ]


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def versions() -> str:
    found = []
    for name in VERSIONS:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name} (not installed)")
    return f"Python {platform.python_version()}, " + ", ".join(found)


def warm_up(runner, args) -> dict[str, Any]:
    """One small bayesresp fit in its own process before the timed ones: it leaves the
    kernel compiled in Numba's disk cache (as any earlier use on the machine would), so
    that every timed fit loads it as a user's second and later fits do. Its compile time
    is reported: the one-time cost on a fresh install, or the load from the cache."""
    path = runner.workdir / "warmup.pkl"
    simulated(WARMUP_ROWS, args.missions, args.data_seed).to_pickle(path)
    r = runner.run("bayesresp-warmup", path, spec=SPEC, draws=20, tune=20, chains=1, cores=1)
    if r["status"] == "ok":
        print(f"  {LABELS['bayesresp-warmup']}: compile {_s(r['compile'])}, total {_s(r['total'])}")
    else:
        print(f"  {LABELS['bayesresp-warmup']}: {r['status']}")
    if "stan" in args.peers:  # Stan's C++ compile, paid once per machine as the kernel's
        import pandas as pd

        peer = runner.workdir / "warmup-peer.pkl"
        peer_frame(pd.read_pickle(path)).to_pickle(peer)
        s = runner.run("stan-warmup", peer, **stan_task(), warmup=1)
        r["stan"] = s
        shown = f"compile {_s(s['compile'])}" if s["status"] == "ok" else s["status"]
        print(f"  {LABELS['stan-warmup']}: {shown}")
    return r


def render(args, measured, whatif, warmup=None) -> str:
    """The Markdown block that goes between the README's markers."""
    a = args
    if warmup and warmup.get("status") == "ok":
        warm = (
            f" Before them, a small bayesresp fit in its own process ({WARMUP_ROWS} rows, 1 "
            f"chain x 20 draws) compiled or loaded the kernel: compile {_s(warmup['compile'])} "
            f"s, total {_s(warmup['total'])} s (on a fresh install this first use compiles "
            "it: about 10 s on this machine; later processes load it from Numba's disk cache)."
        )
        stan_warm = warmup.get("stan")
        if stan_warm and stan_warm.get("status") == "ok":
            warm += (
                f" Likewise Stan's model was built before its timed fits: "
                f"{_s(stan_warm['compile'])} s (a C++ compile on first use, then httpstan's "
                "cache; the Stan rows' compile column is that load)."
            )
    else:
        warm = ""
    lines = [
        f"Run of {date.today().isoformat()}"
        + (" (`--quick` smoke run: not a benchmark)" if a.quick else "")
        + f": {os.cpu_count()} cores ({cpu_model()}); {versions()}. "
        f"{a.chains} chains × {a.draws:,} draws after {a.tune:,} tuning, {a.cores} cores, "
        f"seed {a.seed}, target_accept {a.target_accept}; simulated data: {a.missions} "
        f"missions, seed {a.data_seed}. Each fit in a fresh process, one at a time; "
        f"time cap {a.peer_timeout:g} min per fit." + warm,
        "",
        f"**Hierarchical specification** (`{SPEC}`):",
        "",
        *MAIN_HEADER,
    ]
    for ds, results, _ in measured:
        lines += main_rows(ds, results)
    lines += ["", f"**Non-hierarchical floor** (`{BASELINE}` specification):", "", *FLOOR_HEADER]
    for ds, results, _ in measured:
        lines += floor_rows(ds, results)
    ds, results, source = measured[0]
    lines += ["", "**Refit of the same specification:**", ""]
    lines += refit_lines(ds, results["bayesresp"], source)
    lines += ["", *whatif_lines(whatif)]
    return "\n".join(lines)


def write_readme(block: str, path: Path = README) -> None:
    write_between(path, BEGIN, END, block)


# -- main -------------------------------------------------------------------------------
def measure_whatif(args) -> dict[str, Any] | None:
    if args.no_whatif:
        return None
    sys.path.insert(0, str(HERE))
    import whatif_throughput

    print("What-if throughput ...", flush=True)
    fit = whatif_throughput.example_fit(
        draws=max(args.draws // 2, 50), tune=max(args.tune // 2, 50)
    )
    return whatif_throughput.measure(args.whatif_profiles, args.whatif_draws, fit=fit)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.worker:
        run_worker(args.worker)
        return
    started = time.perf_counter()
    print(f"Fit speed: {args.chains} chains x {args.draws} draws after {args.tune} tuning")
    measured = []
    with tempfile.TemporaryDirectory(prefix="fit-speed-") as tmp:
        runner = Runner(args, Path(tmp))
        warmup = warm_up(runner, args)
        for i, ds in enumerate(datasets(args)):
            print(f"{ds.name}: {len(ds.frame):,} rows, {ds.distinct:,} distinct", flush=True)
            refit, source = (None, "")
            if i == 0:
                refit, source = same_shape_data(ds.frame, args.missions, args.data_seed + 1000)
            measured.append((ds, measure_dataset(ds, runner, args, refit), source))
    block = render(args, measured, measure_whatif(args), warmup)
    print("\n" + block + "\n")
    if args.write_readme:
        write_readme(block)
        print(f"Written to {README.relative_to(HERE.parent)}")
    print(f"Done in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
