"""Sampling: one dispatch for every fit, refit and calibration run.

:class:`SamplerSettings` says how to sample (sampler, draws, tuning, chains, seed, the
compiled kernel, centring ...) and checks its values once, with the package's errors.
:func:`sample` draws from the posterior of a design: through bayesresp's compiled kernel
(:mod:`bayesresp.inference.kernel`) when nutpie samples a model it covers, otherwise
through PyMC's graph with the chosen NUTS implementation. :func:`sample_outcomes` refits
one design to many simulated outcomes (simulation-based calibration) with one compiled
model. Compiled PyMC models are kept by structure and reused for refits of other rows
(nutpie's ``with_data``); the cache is shared by threads and guarded by a lock.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import numbers
import os
import signal
import threading
import time
import warnings
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from bayesresp.errors import SamplerError
from bayesresp.model.design import Design
from bayesresp.model.spec import ModelSpec

SAMPLERS = ("nutpie", "pymc", "numpyro")


def _check_int(name: str, value: Any, least: int) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < least:
        raise SamplerError(f"{name} must be a whole number of at least {least}, not {value!r}")


def _check_flag(name: str, value: Any) -> None:
    if value is not None and not isinstance(value, bool):
        raise SamplerError(f"{name} must be True, False or None, not {value!r}")


def _centring(value: Any) -> bool | tuple[str, ...] | None:
    """``centring`` checked: True, False, None, or group term labels as a tuple."""
    if value is None or isinstance(value, bool):
        return value
    labels = (value,) if isinstance(value, str) else value
    if isinstance(labels, list | tuple) and labels and all(isinstance(v, str) for v in labels):
        return tuple(labels)
    raise SamplerError(
        "centring must be True, False, None, or the labels of group terms to centre "
        f"(such as 'mission' or ['mission', 'mission:department']), not {value!r}"
    )


@dataclass(frozen=True)
class SamplerSettings:
    """How to sample; every value is checked when the settings are made.

    Attributes
    ----------
    sampler : {"nutpie", "pymc", "numpyro"}
        NUTS implementation.
    draws, tune, chains : int
        Posterior draws and tuning steps per chain (draws >= 1, tune >= 0), and chains.
    seed : int or None
        Same seed, same draws; :meth:`seeded` draws and records one when it is None.
    target_accept : float
        NUTS's target acceptance rate, in (0, 1).
    cores : int or None
        Chains run in parallel on this many cores (as many as there are, up to the
        number of chains, by default).
    progress : bool
        Show progress bars.
    compress, kernel : bool or None
        Fit the distinct rows with counts; sample the compiled kernel. None chooses by
        the data (see :func:`bayesresp.fit`).
    centring : bool, group term labels, or None
        Which of nested group intercepts to centre hierarchically: all (True), none
        (False), the terms named (a label or a sequence of them, kept as a tuple), or as
        the data suggest (None; :func:`bayesresp.inference.packing.centred_terms`).
    """

    sampler: str = "nutpie"
    draws: int = 1000
    tune: int = 1000
    chains: int = 4
    seed: int | None = None
    target_accept: float = 0.9
    cores: int | None = None
    progress: bool = True
    compress: bool | None = None
    kernel: bool | None = None
    centring: bool | tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.sampler not in SAMPLERS:
            raise SamplerError(f"sampler '{self.sampler}' is not one of {', '.join(SAMPLERS)}")
        _check_int("draws", self.draws, 1)
        _check_int("tune", self.tune, 0)
        _check_int("chains", self.chains, 1)
        if self.seed is not None:
            _check_int("seed", self.seed, 0)
        if self.cores is not None:
            _check_int("cores", self.cores, 1)
        accept = self.target_accept
        if (
            isinstance(accept, bool)
            or not isinstance(accept, numbers.Real)
            or not 0.0 < float(accept) < 1.0
        ):
            raise SamplerError(f"target_accept must be a number in (0, 1), not {accept!r}")
        if not isinstance(self.progress, bool):
            raise SamplerError(f"progress must be True or False, not {self.progress!r}")
        for name in ("compress", "kernel"):
            _check_flag(name, getattr(self, name))
        object.__setattr__(self, "centring", _centring(self.centring))
        if self.kernel and self.sampler != "nutpie":
            raise SamplerError(f"kernel=True needs sampler='nutpie' (not '{self.sampler}')")

    def replace(self, **changes: Any) -> SamplerSettings:
        """These settings with some changed (checked again)."""
        return dataclasses.replace(self, **changes)

    def seeded(self) -> SamplerSettings:
        """These settings with a seed: drawn from the operating system when None."""
        if self.seed is not None:
            return self
        return self.replace(seed=int(np.random.SeedSequence().entropy % 2**32))

    @property
    def n_cores(self) -> int:
        return self.cores or max(1, min(self.chains, os.cpu_count() or 1))

    @property
    def chain_seed(self) -> int:
        """One seed for nutpie, derived from the user's seed as PyMC does."""
        return int(np.random.default_rng(self.seed).spawn(self.chains)[0].integers(2**30))

    def to_meta(self) -> dict[str, Any]:
        """What a fit records of its settings (``fit.meta``)."""
        keys = ("sampler", "seed", "draws", "tune", "chains", "target_accept")
        return {k: getattr(self, k) for k in keys}

    @classmethod
    def from_meta(cls, meta: dict[str, Any], **changes: Any) -> SamplerSettings:
        """The settings a fit was made with (as far as ``fit.meta`` records them), with
        ``changes``: how refits (exact LOO, K-fold) sample like the fit they refit."""
        known = {k: meta[k] for k in ("sampler", "chains", "target_accept") if k in meta}
        return cls(**{**known, **changes})


@dataclass
class Sampled:
    """What :func:`sample` returns: the sampler's DataTree (posterior with the PyMC
    model's variables, sample stats) and how it was made."""

    tree: xr.DataTree
    log_density: str  # "kernel" or "pytensor"
    compiled: str  # "kernel", "new" or "reused"
    centred: tuple[str, ...]  # the hierarchically centred group terms
    timings: dict[str, float | None]


# -- interrupts ---------------------------------------------------------------------------
def run_nutpie(compiled, **kwargs: Any) -> xr.DataTree:
    """``nutpie.sample(compiled, **kwargs)`` that an interrupt stops.

    nutpie's blocking call catches :class:`KeyboardInterrupt` and returns the draws made so
    far as if sampling had finished. Here nutpie samples in the background and this
    thread waits; on an interrupt (or any error) the run is cancelled, its draws
    discarded, and the exception raised.
    """
    import nutpie

    running = nutpie.sample(compiled, blocking=False, **kwargs)
    try:
        return running.wait()
    except BaseException:
        running.cancel()
        raise


@contextlib.contextmanager
def _noting_interrupts() -> Iterator[list[int]]:
    """Note every SIGINT that arrives inside the block (then handled as before): samplers
    that swallow the :class:`KeyboardInterrupt` cannot hide it. Only in the main thread,
    the only one Python delivers signals to; elsewhere nothing is noted."""
    noted: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield noted
        return
    previous = signal.getsignal(signal.SIGINT)
    if previous is None or previous is signal.SIG_IGN:  # not Python's, or ignored: leave it
        yield noted
        return

    def note(signum, frame):
        noted.append(signum)
        if callable(previous):
            previous(signum, frame)
        else:  # SIG_DFL
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, note)
    try:
        yield noted
    finally:
        signal.signal(signal.SIGINT, previous)


def _refuse_partial(tree: xr.DataTree, settings: SamplerSettings, interrupted: bool) -> None:
    """Raise KeyboardInterrupt for a sampler's result that an interrupt cut short."""
    post = tree["posterior"]
    chains, draws = post.sizes.get("chain", 0), post.sizes.get("draw", 0)
    if interrupted or chains < settings.chains or draws < settings.draws:
        raise KeyboardInterrupt(
            f"sampling was interrupted ({chains} chain(s) of {draws} draws, of "
            f"{settings.chains} x {settings.draws} asked for); nothing was kept"
        )


# -- choosing the log density -------------------------------------------------------------
def use_kernel(design: Design, settings: SamplerSettings, family=None) -> bool:
    """Whether nutpie samples bayesresp's compiled log density rather than PyMC's graph
    (``family``: the model's ordinal family, None for the cumulative one)."""
    if settings.kernel is False or settings.sampler != "nutpie":
        return False
    from bayesresp.inference.packing import unsupported

    reason = unsupported(design.info, family, bool(design.ranges.any()))
    if reason is not None and settings.kernel:
        raise SamplerError(
            f"the compiled log density does not cover {reason}; fit with kernel=None or False"
        )
    return reason is None


def sample(
    design: Design, spec: ModelSpec, settings: SamplerSettings, started: float | None = None
) -> Sampled:
    """Draw from the posterior of ``design`` under ``spec``; ``settings`` must be seeded."""
    started = time.perf_counter() if started is None else started
    if settings.seed is None:
        raise ValueError("sample() needs seeded settings (SamplerSettings.seeded())")
    kernel = use_kernel(design, settings, spec.response)
    if settings.centring and not kernel:
        from bayesresp.inference.packing import unsupported

        why = unsupported(design.info, spec.response, bool(design.ranges.any())) or (
            f"sampler='{settings.sampler}', kernel={settings.kernel}"
        )
        raise SamplerError(
            f"centring={settings.centring!r} needs the compiled kernel, which is not used "
            f"here ({why})"
        )
    timings: dict[str, float | None] = {}
    if kernel:
        tree, centred = _sample_kernel(design, spec, settings, timings, started)
        return Sampled(tree, "kernel", "kernel", centred, timings)
    from bayesresp.model.graph import build_model, data_values

    model = build_model(design, spec.priors, spec.response)
    timings["build"] = time.perf_counter() - started
    # the coders' layer and summed-out covariates read their rows' layout (codes and
    # coders, copies of rows) as constants: never reused for other rows
    reusable = design.coders is None and design.imputation is None and not design.latent
    structure = structure_key(design, spec) if reusable else None
    tree, how = _sample_model(model, settings, structure, data_values(design), timings)
    return Sampled(tree, "pytensor", how, (), timings)


def _sample_kernel(design, spec, settings, timings, started) -> tuple[xr.DataTree, tuple[str, ...]]:
    """Sample with nutpie from the compiled kernel; the posterior has the PyMC model's
    variables. Centred fits of up to ``nutpie_adapter.LOW_RANK_MAX_DIM`` dimensions use
    nutpie's low-rank modified mass matrix: the common level of the group means and the
    cutpoints form a ridge a diagonal one cannot follow."""
    from bayesresp.inference import kernel, nutpie_adapter, packing

    t = time.perf_counter()
    kernel.callbacks()  # compiled once per machine, then loaded from Numba's disk cache
    load = time.perf_counter() - t
    try:  # resolved once (the default reads the data's signal), refused as the user's
        centred = packing.centred_terms(design, settings.centring)
    except ValueError as exc:
        raise SamplerError(f"centring={settings.centring!r}: {exc}") from None
    packed = packing.pack(design, spec.priors, spec.link, centred, spec.thresholds, spec.family)
    compiled = nutpie_adapter.nutpie_model(packed)
    timings["build"] = time.perf_counter() - started - load
    timings["compile"] = load
    t = time.perf_counter()
    tree = _nutpie(compiled, settings, **nutpie_adapter.nutpie_settings(packed))
    timings["sampling"] = time.perf_counter() - t
    out = xr.DataTree()
    out["posterior"] = xr.DataTree(packing.posterior(packed, tree["posterior"].to_dataset()))
    out["sample_stats"] = xr.DataTree(tree["sample_stats"].to_dataset())
    return out, packed.centred


def _nutpie(compiled, settings: SamplerSettings, **extra: Any) -> xr.DataTree:
    """nutpie's NUTS on a compiled model (the kernel's or PyMC's graph), with the
    settings; an interrupted or shortened run raises KeyboardInterrupt."""
    tree = run_nutpie(
        compiled,
        draws=settings.draws,
        tune=max(settings.tune, 1),
        chains=settings.chains,
        cores=settings.n_cores,
        seed=settings.chain_seed,
        progress_bar=settings.progress,
        target_accept=settings.target_accept,
        **extra,
    )
    _refuse_partial(tree, settings, interrupted=False)
    return tree


# -- compiled PyMC models, kept for refits -------------------------------------------------
# Compiled models by structure, for refits of the same specification on other rows of
# the same structure (calibration, cross-validation, simulation): the graph depends only
# on the structure, so the data arrays are swapped in (nutpie's with_data) and nothing
# is compiled again. A few are kept, the least recently used dropped first; a lock
# makes the cache safe to share between threads (a thread pool of refits).
_COMPILED: OrderedDict[str, Any] = OrderedDict()
_COMPILED_KEEP = 4
_COMPILED_LOCK = threading.Lock()


def structure_key(design: Design, spec: ModelSpec) -> str:
    """Everything the model's graph depends on, apart from the data arrays."""
    from bayesresp.model.graph import prior_table

    info = design.info
    return json.dumps(
        {
            "spectrum": info.spectrum,
            "columns": info.column_names,
            "cs_columns": [c.name for c in info.cs_columns],
            # the corners of an ordered cs() number's range are constants of the graph
            "cs_bounds": info.cs_bounds,
            "monotonic": [(m.var, m.levels) for m in info.monotonic],
            # Level counts, not names: a refit relabels the levels (finish_tree).
            "groups": [(g.label, len(g.levels), g.column_names, g.correlated) for g in info.groups],
            "priors": prior_table(info, spec.priors, spec.response),
            "link": spec.link,
            "family": spec.family,
            "thresholds": spec.thresholds,
            "ranges": design.y_high is not None,
        },
        sort_keys=True,
    )


def clear_compiled_models() -> None:
    """Forget the compiled models kept for refits (frees their memory)."""
    with _COMPILED_LOCK:
        _COMPILED.clear()


def compiled_nutpie(model, structure: str | None, data: dict | None) -> tuple[Any, str]:
    """nutpie's compiled form of ``model``: reused (with ``data`` swapped in) when a model
    of the same structure was compiled before, "new" otherwise."""
    import nutpie

    if structure is not None:
        with _COMPILED_LOCK:
            compiled = _COMPILED.get(structure)
            if compiled is not None:
                _COMPILED.move_to_end(structure)
        if compiled is not None:
            # Containers the graph does not use (no mo() terms: 'mono') were compiled away.
            used = {var.name for var in compiled.shared_var_keys}
            return compiled.with_data(**{k: v for k, v in data.items() if k in used}), "reused"
    import pytensor

    # Without fastmath, floating-point operations keep their order whatever the memory
    # alignment of the arrays: the same seed then gives the same draws in every process,
    # not only within one.
    with pytensor.config.change_flags(numba__fastmath=False):
        compiled = nutpie.compile_pymc_model(model, backend="numba")
    if structure is not None:
        with _COMPILED_LOCK:
            _COMPILED[structure] = compiled
            while len(_COMPILED) > _COMPILED_KEEP:
                _COMPILED.popitem(last=False)
    return compiled, "new"


def _sample_model(
    model, settings: SamplerSettings, structure: str | None, data: dict | None, timings: dict
) -> tuple[xr.DataTree, str]:
    """Run NUTS on PyMC's graph with the chosen backend; return its DataTree and whether
    the compiled model was "new" or "reused" ("new" for samplers that compile inside
    PyMC). With nutpie, compiling and sampling are timed apart; the other samplers
    compile inside their sampling call, so their ``compile`` time is None."""
    import pymc as pm

    if settings.sampler == "nutpie":
        t = time.perf_counter()
        compiled, how = compiled_nutpie(model, structure, data)
        timings["compile"] = time.perf_counter() - t
        t = time.perf_counter()
        tree = _nutpie(compiled, settings)
        timings["sampling"] = time.perf_counter() - t
        return tree, how
    if settings.sampler == "numpyro":
        try:
            import numpyro  # noqa: F401
        except ImportError:
            raise SamplerError(
                "the numpyro sampler needs JAX and NumPyro: pip install 'bayesresp[jax]'"
            ) from None
    t = time.perf_counter()
    # pm.sample catches an interrupt and returns the chains so far, cut to one length.
    with model, warnings.catch_warnings(), _noting_interrupts() as interrupts:
        warnings.filterwarnings("ignore", message=".*Potential.*")
        try:
            tree = pm.sample(
                draws=settings.draws,
                tune=settings.tune,
                chains=settings.chains,
                cores=settings.n_cores,
                random_seed=settings.seed,
                progressbar=settings.progress,
                nuts_sampler=settings.sampler,
                target_accept=settings.target_accept,
                compute_convergence_checks=False,
            )
        except Exception:  # what an interrupted run leaves may not even make a result
            if interrupts:
                raise KeyboardInterrupt("sampling was interrupted; nothing was kept") from None
            raise
    _refuse_partial(tree, settings, bool(interrupts))
    timings["compile"] = None
    timings["sampling"] = time.perf_counter() - t
    return tree, "new"


# -- one design, many outcomes --------------------------------------------------------------
def sample_outcomes(
    design: Design,
    spec: ModelSpec,
    ys: list[np.ndarray],
    seeds: list[int],
    draws: int,
    tune: int,
) -> Iterator[xr.Dataset]:
    """Posterior draws (one chain each) for the design refitted to each outcome in
    ``ys``, with one compiled model: the kernel's (repacked per outcome, nothing
    compiled) where it covers the model, else PyMC's graph compiled once and fed each
    outcome. For simulation-based calibration. Yields each posterior Dataset with the
    PyMC model's variables. The outcomes are exact codes (a design with ranges is
    refitted with every row exact)."""
    from bayesresp.inference import nutpie_adapter, packing

    with_kernel = packing.unsupported(design.info, spec.response) is None
    if not with_kernel:
        from bayesresp.model.graph import build_model, data_values

        model = build_model(design, spec.priors, spec.response)
        compiled, _ = compiled_nutpie(model, structure_key(design, spec), data_values(design))
    for y, seed in zip(ys, seeds, strict=True):
        y = np.asarray(y, dtype=np.int64)
        if with_kernel:
            exact = dataclasses.replace(design, y=y, y_high=None)
            packed = packing.pack(
                exact, spec.priors, spec.link, thresholds=spec.thresholds, family=spec.family
            )
            target = nutpie_adapter.nutpie_model(packed)
            extra = nutpie_adapter.nutpie_settings(packed)
        else:
            ranged = {} if design.y_high is None else {"y_high": y}
            target, extra = compiled.with_data(y=y, **ranged), {}
        trace = run_nutpie(
            target,
            draws=draws,
            tune=tune,
            chains=1,
            cores=1,
            seed=seed,
            progress_bar=False,
            **extra,
        )
        post = trace["posterior"].to_dataset()
        yield packing.posterior(packed, post) if with_kernel else post
