"""Model checking: convergence diagnostics, prior and posterior predictive checks, model
comparison (LOO, K-fold), prior sensitivity, simulation-based calibration, and coder
reliability.

May import: ``bayesresp.queries`` and everything below it.
"""
