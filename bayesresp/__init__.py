"""bayesresp: Bayesian models of responses to norm violations.

Officials of international organizations respond to norm violations by host
governments with responses on a conciliation-confrontation spectrum. bayesresp fits
hierarchical ordinal (cumulative-link) models of those responses with PyMC, from coded
data sets validated against a codebook.

The package is built in layers, each a folder that imports only the layers below it
(a contract in the test suite checks this):

==============  ===========================================================================
``cli``         the command line
``api``         the user's facade: ``Fit``, ``fit``, ``load_fit``
``present``     the shareable HTML report
``checks``      diagnostics, predictive checks, comparison, sensitivity, calibration,
                reliability
``queries``     parameter tables, what-if, contrasts, scenarios
``inference``   sampling (one dispatch), the compiled kernel, the fitted record, fit files
``model``       formula, specification, priors, design, the PyMC graph
``data``        codebook, reading and validating tables, describing, simulating, examples
base            ``maths`` (links and cumulative-link maths), ``plots``, ``progress``,
                ``errors``
==============  ===========================================================================

The names below are loaded on first use, so ``import bayesresp`` (and
``bayesresp validate``) does not load PyMC, PyTensor or Numba.
"""

from __future__ import annotations

import sys
from importlib import import_module
from typing import TYPE_CHECKING, Any

from bayesresp import _moved
from bayesresp._version import __version__
from bayesresp.errors import (
    BatchError,
    BayesrespError,
    CodebookError,
    ComparisonError,
    DataFileError,
    DataValidationError,
    FitFileError,
    FormulaError,
    MissingDataError,
    PlanError,
    POCheckError,
    PriorError,
    ProfileError,
    ReliabilityError,
    ReportError,
    SamplerError,
    ScenarioError,
    SpecError,
    UnknownGroupError,
)

_moved.install(sys.modules[__name__])  # the module paths of 0.1, with a warning

# Public name -> the module that defines it.
_LAZY = {
    "Fit": "bayesresp.api",
    "fit": "bayesresp.api",
    "load_fit": "bayesresp.api",
    "Codebook": "bayesresp.data.codebook",
    "Field": "bayesresp.data.codebook",
    "DataSummary": "bayesresp.data.describe",
    "describe": "bayesresp.data.describe",
    "load_example": "bayesresp.data.examples",
    "load_example_truth": "bayesresp.data.examples",
    "Simulation": "bayesresp.data.simulate",
    "simulate": "bayesresp.data.simulate",
    "read_table": "bayesresp.data.tables",
    "Problem": "bayesresp.data.validation",
    "ValidationReport": "bayesresp.data.validation",
    "check": "bayesresp.data.validation",
    "validate": "bayesresp.data.validation",
    "parse_formula": "bayesresp.model.formula",
    "ModelSpec": "bayesresp.model.spec",
    "compare": "bayesresp.checks.comparison",
    "plan": "bayesresp.checks.planning",
    "po_check": "bayesresp.checks.proportional_odds",
    "POCheckResult": "bayesresp.checks.proportional_odds",
    "PlanResult": "bayesresp.checks.planning",
    "posterior_predictive_check": "bayesresp.checks.predictive",
    "prior_predictive_check": "bayesresp.api",
    "krippendorff_alpha": "bayesresp.checks.reliability",
    "reliability": "bayesresp.checks.reliability",
    "SBCResult": "bayesresp.checks.calibration",
    "sbc": "bayesresp.checks.calibration",
}

if TYPE_CHECKING:  # for type checkers and editors; at run time, __getattr__ loads them
    from bayesresp.api import Fit, fit, load_fit, prior_predictive_check
    from bayesresp.checks.calibration import SBCResult, sbc
    from bayesresp.checks.comparison import compare
    from bayesresp.checks.predictive import posterior_predictive_check
    from bayesresp.checks.proportional_odds import POCheckResult, po_check
    from bayesresp.checks.reliability import krippendorff_alpha, reliability
    from bayesresp.data.codebook import Codebook, Field
    from bayesresp.data.describe import DataSummary, describe
    from bayesresp.data.examples import load_example, load_example_truth
    from bayesresp.data.simulate import Simulation, simulate
    from bayesresp.data.tables import read_table
    from bayesresp.data.validation import Problem, ValidationReport, check, validate
    from bayesresp.model.formula import parse_formula
    from bayesresp.model.spec import ModelSpec


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'bayesresp' has no attribute '{name}'")
    value = getattr(import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "BatchError",
    "BayesrespError",
    "check",
    "Codebook",
    "CodebookError",
    "compare",
    "ComparisonError",
    "DataFileError",
    "DataSummary",
    "DataValidationError",
    "describe",
    "Field",
    "fit",
    "Fit",
    "FitFileError",
    "FormulaError",
    "krippendorff_alpha",
    "load_example",
    "load_example_truth",
    "load_fit",
    "MissingDataError",
    "ModelSpec",
    "parse_formula",
    "plan",
    "PlanError",
    "PlanResult",
    "po_check",
    "POCheckError",
    "POCheckResult",
    "posterior_predictive_check",
    "prior_predictive_check",
    "PriorError",
    "Problem",
    "ProfileError",
    "read_table",
    "reliability",
    "ReliabilityError",
    "ReportError",
    "SamplerError",
    "sbc",
    "SBCResult",
    "ScenarioError",
    "simulate",
    "Simulation",
    "SpecError",
    "UnknownGroupError",
    "validate",
    "ValidationReport",
    "__version__",
]
