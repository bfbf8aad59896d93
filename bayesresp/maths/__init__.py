"""Maths, written once per dialect: NumPy for predictions from posterior draws, PyTensor
for the PyMC model, Numba for the compiled kernel.

``ops``           the array operations each dialect provides, under one set of names
``links``         the link functions, each one object (logit, probit, cloglog, cauchit)
``links_numba``   the links' Numba twins, for the kernel (imports Numba: only the kernel
                  imports it)
``vector_numba``  branch-free exp, log, log1p and erfcx that vectorise in the kernel's
                  loops over rows (Numba too)
``cumulative``    the cumulative-link model: category probabilities, the log-likelihood
                  of the observed category, expected position
``predictor``     the linear predictor, one body for NumPy and PyTensor

A base layer: imports nothing of the package but ``bayesresp.errors``. NumPy and SciPy at
import time only; PyTensor inside the functions that use it.
"""


def __getattr__(name: str):
    # Names of the old module bayesresp.maths, forwarded with a DeprecationWarning.
    from bayesresp._moved import old_name

    return old_name(__name__, name)
