"""bayesresp: Bayesian models of responses to norm violations.

Officials of international organizations respond to norm violations by host
governments with responses on a conciliation-confrontation spectrum. bayesresp fits
hierarchical ordinal (cumulative-logit) models of those responses with PyMC, from coded
data sets validated against a codebook.
"""

from bayesresp.checks import posterior_predictive_check, prior_predictive_check
from bayesresp.codebook import Codebook, Field
from bayesresp.comparison import compare
from bayesresp.describe import DataSummary, describe
from bayesresp.errors import (
    BayesrespError,
    CodebookError,
    DataFileError,
    DataValidationError,
)
from bayesresp.examples import load_example, load_example_truth
from bayesresp.fitfile import FitFileError, load_fit
from bayesresp.fitting import MissingDataError, SamplerError, fit
from bayesresp.formula import FormulaError, parse_formula
from bayesresp.priors import PriorError
from bayesresp.reliability import krippendorff_alpha, reliability
from bayesresp.results import Fit
from bayesresp.sbc import SBCResult, sbc
from bayesresp.simulate import Simulation, simulate
from bayesresp.spec import ModelSpec, SpecError
from bayesresp.tables import read_table
from bayesresp.validation import Problem, ValidationReport, check, validate

__version__ = "0.1.0"

__all__ = [
    "BayesrespError",
    "Codebook",
    "CodebookError",
    "DataFileError",
    "DataSummary",
    "DataValidationError",
    "Field",
    "Fit",
    "FitFileError",
    "FormulaError",
    "MissingDataError",
    "ModelSpec",
    "PriorError",
    "Problem",
    "SamplerError",
    "SBCResult",
    "Simulation",
    "SpecError",
    "ValidationReport",
    "__version__",
    "check",
    "compare",
    "describe",
    "fit",
    "krippendorff_alpha",
    "load_example",
    "load_example_truth",
    "load_fit",
    "parse_formula",
    "posterior_predictive_check",
    "prior_predictive_check",
    "read_table",
    "reliability",
    "sbc",
    "simulate",
    "validate",
]
