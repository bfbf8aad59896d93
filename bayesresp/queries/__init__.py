"""Queries: what the posterior says, as tables: parameter summaries, what-if answers for
hypothetical incidents, contrasts, marginal effects and staffing scenarios.

Each verb takes the fitted record (:class:`bayesresp.inference.record.FittedModel`).
May import: ``bayesresp.inference``, ``bayesresp.model``, ``bayesresp.data`` and the
base modules.
"""
