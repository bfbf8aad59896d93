"""bayesresp: Bayesian models of responses to norm violations.

Officials of international organizations respond to norm violations by host
governments with responses on a conciliation-confrontation spectrum. bayesresp fits
hierarchical ordinal (cumulative-logit) models of those responses with PyMC, from coded
data sets validated against a codebook.
"""

from bayesresp.codebook import Codebook, Field
from bayesresp.errors import (
    BayesrespError,
    CodebookError,
    DataFileError,
    DataValidationError,
)
from bayesresp.examples import load_example, load_example_truth
from bayesresp.simulate import Simulation, simulate
from bayesresp.tables import read_table
from bayesresp.validation import Problem, ValidationReport, check, validate

__version__ = "0.1.0"

__all__ = [
    "BayesrespError",
    "Codebook",
    "CodebookError",
    "DataFileError",
    "DataValidationError",
    "Field",
    "Problem",
    "Simulation",
    "ValidationReport",
    "__version__",
    "check",
    "load_example",
    "load_example_truth",
    "read_table",
    "simulate",
    "validate",
]
