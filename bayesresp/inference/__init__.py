"""Inference: fitting (one sampler dispatch), the compiled Numba kernel of the log density,
posterior draws as arrays, the fitted record and fit files.

May import: ``bayesresp.model``, ``bayesresp.data`` and the base modules.
"""
