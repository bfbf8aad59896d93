"""Presentation: the self-contained HTML report of a fit.

May import: ``bayesresp.checks`` and everything below it.
"""
