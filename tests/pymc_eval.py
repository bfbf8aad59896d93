"""PyMC's log density as the tests' reference, evaluated without compiling C.

The tests that tie the kernel, compression or ranges to PyMC's graph evaluate that graph at
a few points. PyTensor's default mode compiles every graph to C first, which on a machine
whose PyTensor cache is cold (a fresh CI machine) costs a minute or more per graph; its
Python linker runs each operation's NumPy implementation instead and needs no compiler.
The values are the same computations, so the tests' rounding tolerances hold.
"""

from __future__ import annotations

from pytensor.compile.mode import Mode

#: The mode of every reference evaluation of a PyMC graph in the tests.
PY = Mode(linker="py", optimizer="fast_compile")


def logp_dlogp(model):
    """The model's log density and its gradient, compiled with :data:`PY`."""
    return model.compile_logp(mode=PY), model.compile_dlogp(mode=PY)


def loglik_at_random_points(model, names: list[str], points: int = 3, seed: int = 0):
    """The model's log-likelihood (its ``loglik`` Potential) and the named variables at
    ``points`` random points near its initial point, each as (log-likelihood, a
    one-draw posterior Dataset of the named variables): what a test reads with
    :class:`bayesresp.inference.arrays.PosteriorArrays` to compute the same
    log-likelihood by the prediction path."""
    import numpy as np
    import xarray as xr

    outs = model.replace_rvs_by_values([model["loglik"], *[model[n] for n in names]])
    fn = model.compile_fn(outs, inputs=model.value_vars, point_fn=True, mode=PY)
    rng = np.random.default_rng(seed)
    for _ in range(points):
        point = {k: v + rng.normal(0, 0.5, np.shape(v)) for k, v in model.initial_point().items()}
        loglik, *values = fn(point)
        post = xr.Dataset(
            {
                n: (
                    ("chain", "draw", *[f"{n}_{i}" for i in range(np.ndim(v))]),
                    np.asarray(v)[None, None],
                )
                for n, v in zip(names, values, strict=True)
            }
        )
        yield float(loglik), post
