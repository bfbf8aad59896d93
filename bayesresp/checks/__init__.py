"""Model checking: convergence diagnostics, prior and posterior predictive checks, model
comparison (LOO, K-fold), prior sensitivity, simulation-based calibration, and coder
reliability.

May import: ``bayesresp.queries`` and everything below it.
"""


def __getattr__(name: str):
    # Names of the old module bayesresp.checks, forwarded with a DeprecationWarning.
    from bayesresp._moved import old_name

    return old_name(__name__, name)
