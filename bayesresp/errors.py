"""Exception types: one per family of user error.

Every error a user can cause derives from :class:`BayesrespError`, so the command line can
turn any of them into one clear line and an exit status instead of a traceback.
"""

from __future__ import annotations


class BayesrespError(Exception):
    """Base class of all errors a user of bayesresp can cause and act on."""

    exit_status = 1


class CodebookError(BayesrespError):
    """A codebook file is unreadable or does not describe a usable table."""

    exit_status = 2


class DataFileError(BayesrespError):
    """A data file cannot be read at all (missing, unreadable, not CSV or Parquet)."""

    exit_status = 2


class DataValidationError(BayesrespError):
    """A coded data set breaks its codebook.

    Attributes
    ----------
    problems : list of Problem
        Every problem found, errors and warnings, each with row, column, value and what
        was expected.
    """

    exit_status = 1

    def __init__(self, problems, source: str | None = None, shown: int = 20):
        self.problems = list(problems)
        self.source = source
        errors = [p for p in self.problems if p.severity == "error"]
        where = f" in {source}" if source else ""
        lines = [f"{len(errors)} problem{'s' if len(errors) != 1 else ''} found{where}:"]
        lines += [f"  {p}" for p in errors[:shown]]
        if len(errors) > shown:
            lines.append(f"  ... and {len(errors) - shown} more (see the .problems attribute)")
        super().__init__("\n".join(lines))
