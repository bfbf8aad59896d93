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


# -- the model's specification -------------------------------------------------


class SpecError(BayesrespError):
    """A model specification that cannot be read or used (its formula and priors too:
    :class:`FormulaError` and :class:`PriorError` are kinds of it, so ``except
    SpecError`` catches every problem of a specification)."""

    exit_status = 2


class FormulaError(SpecError):
    """A formula that cannot be parsed or does not fit the data or codebook."""

    exit_status = 2


class PriorError(SpecError):
    """A prior that cannot be read or does not fit what it is assigned to."""

    exit_status = 2


# -- fitting and fit files -----------------------------------------------------


class MissingDataError(BayesrespError):
    """Rows lack values in columns the formula uses."""

    def __init__(self, message: str, rows: list[int]):
        super().__init__(message)
        self.rows = rows


class SamplerError(BayesrespError):
    """A fit's settings that cannot be used (``draws``, ``tune``, ``chains``, ``seed``,
    ``missing`` ... out of range or of the wrong type), or a sampler that is unknown or
    not installed."""

    exit_status = 2


class FitFileError(BayesrespError):
    """A fit file that cannot be used: missing, corrupted, foreign, tampered or too new."""

    exit_status = 2


# -- queries and checks --------------------------------------------------------


class UnknownGroupError(BayesrespError):
    """A row names a group the fit has not seen, where only known groups are allowed."""


class ProfileError(BayesrespError):
    """A profile that cannot be answered: unknown level, missing covariate, unseen group."""


class ScenarioError(BayesrespError):
    """A scenario rule that cannot be read or applied: unusable input (exit status 2)."""

    exit_status = 2


class ComparisonError(BayesrespError):
    """Fits that cannot be compared (different data, fewer than two)."""


class ReliabilityError(BayesrespError, ValueError):
    """Data for a reliability check are unusable (also a ValueError, so either catch works)."""


# -- reports -------------------------------------------------------------------


class ReportError(BayesrespError):
    """A report that cannot be written: wrong arguments or an unwritable path."""

    exit_status = 2
