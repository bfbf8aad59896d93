"""Exception types: one per family of user error.

Every error a user can cause derives from :class:`BayesrespError`, so the command line can
turn any of them into one clear line and an exit status instead of a traceback.

**One error, two audiences.** An error that tells its reader what to do next often names
an option, and Python and the command line spell options differently: a Python user
passes ``fill='typical'``, a command-line user ``--fill-typical``. Such an error is made
with :meth:`BayesrespError.spelt` from text and :class:`Usage` parts, each part holding
both spellings of one option; ``str(error)`` is the Python message and
:attr:`BayesrespError.cli_message` the command line's, which the command line prints.
The spellings of an option are defined once, next to the option (``GROUPS_NEW`` in
``bayesresp.inference.arrays``, ``FILL_TYPICAL`` in ``bayesresp.queries.whatif``, ...),
and a test checks every command-line spelling against the command line's real flags, so
neither message is made by rewriting the other.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Self


@dataclass(frozen=True)
class Usage:
    """One option as a Python user and as a command-line user write it.

    Examples
    --------
    >>> fill = Usage(python="fill='typical'", cli="--fill-typical")
    >>> str(ProfileError.spelt(["the profiles lack severity; pass ", fill]))
    "the profiles lack severity; pass fill='typical'"
    >>> ProfileError.spelt(["the profiles lack severity; pass ", fill]).cli_message
    'the profiles lack severity; pass --fill-typical'
    """

    python: str
    cli: str


class BayesrespError(Exception):
    """Base class of all errors a user of bayesresp can cause and act on.

    ``str(error)`` is the message for Python users; :attr:`cli_message` the message for
    the command line: the same text unless the error was made by :meth:`spelt`.
    """

    exit_status = 1
    _cli_message: str | None = None

    @property
    def cli_message(self) -> str:
        """The message as the command line says it (options spelt as its flags)."""
        return self._cli_message if self._cli_message is not None else str(self)

    @classmethod
    def spelt(cls, parts: Iterable[str | Usage], *args: Any, **kwargs: Any) -> Self:
        """An error whose message names options: ``parts`` are text and :class:`Usage`
        pieces, spelt the Python way in ``str(error)`` and as flags in
        :attr:`cli_message`. Further arguments go to the class (``rows`` of a
        :class:`MissingDataError`)."""
        parts = list(parts)
        python = "".join(p.python if isinstance(p, Usage) else p for p in parts)
        error = cls(python, *args, **kwargs)
        error._cli_message = "".join(p.cli if isinstance(p, Usage) else p for p in parts)
        return error


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

    def __init__(
        self,
        problems,
        source: str | None = None,
        shown: int = 20,
        *,
        data_file: bool | None = None,
    ):
        self.problems = list(problems)
        self.source = source
        # Whether ``source`` is a data file that ``bayesresp validate`` can check (and list
        # every problem of): a file validated as data, not profiles or rules' results.
        self.data_file = source is not None if data_file is None else data_file
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


class BatchError(BayesrespError):
    """A batch store that cannot be used: it holds another batch (other settings), or a
    result in it is unreadable; or tasks of a batch failed (those finished are kept)."""

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


class PlanError(BayesrespError):
    """A study plan that cannot be made: a design out of range, an unknown covariate or
    target."""

    exit_status = 2


class ComparisonError(BayesrespError):
    """Fits that cannot be compared (different data, fewer than two)."""


class POCheckError(BayesrespError):
    """A proportional-odds check that cannot be made: no covariate can be made
    category-specific, or one named is not a covariate of the fit's common terms."""

    exit_status = 2


class ReliabilityError(BayesrespError, ValueError):
    """Data for a reliability check are unusable (also a ValueError, so either catch works)."""


# -- reports -------------------------------------------------------------------


class ReportError(BayesrespError):
    """A report that cannot be written: wrong arguments or an unwritable path."""

    exit_status = 2
