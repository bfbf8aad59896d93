"""The ``bayesresp`` command line.

Exit status: 0 success (a valid file, a passing check); 1 the input was read but breaks
the rules (invalid data, a failed check); 2 the input could not be used at all
(unreadable file, bad codebook, wrong usage). No user error ends in a traceback.
"""

from bayesresp.cli import checking, data, models, queries, report  # noqa: F401  (register commands)
from bayesresp.cli._app import cli, main

__all__ = ["cli", "main"]
