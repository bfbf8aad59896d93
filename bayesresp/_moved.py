"""The deprecation path of the module paths that moved when the package took its layers
(0.2): ``import bayesresp.kernel``, ``from bayesresp.simulate import DEFAULT_EFFECTS``,
``from bayesresp.maths import log_prob`` and the like keep working for now, with a
``DeprecationWarning`` that names the new place. The public names of ``bayesresp`` itself
did not move.

An old module path gets a stand-in module that forwards every attribute to the new one;
the three old modules whose names are now packages (``maths``, ``model``, ``checks``)
forward their old names from the package (see :func:`old_name`).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import types
import warnings

#: old module -> new module (where its names went: the first module that has the name)
MOVED_MODULES: dict[str, str | tuple[str, ...]] = {
    "bayesresp.codebook": "bayesresp.data.codebook",
    "bayesresp.tables": "bayesresp.data.tables",
    "bayesresp.validation": "bayesresp.data.validation",
    "bayesresp.describe": "bayesresp.data.describe",
    "bayesresp.simulate": "bayesresp.data.simulate",
    "bayesresp.examples": "bayesresp.data.examples",
    "bayesresp.formula": "bayesresp.model.formula",
    "bayesresp.spec": "bayesresp.model.spec",
    "bayesresp.priors": "bayesresp.model.priors",
    "bayesresp.design": "bayesresp.model.design",
    "bayesresp.fitting": ("bayesresp.inference.fitting", "bayesresp.inference.sampling"),
    "bayesresp.kernel": (
        "bayesresp.inference.kernel",
        "bayesresp.inference.packing",
        "bayesresp.inference.nutpie_adapter",
    ),
    "bayesresp.draws": "bayesresp.inference.arrays",
    "bayesresp.fitfile": "bayesresp.inference.fitfile",
    "bayesresp.results": ("bayesresp.api", "bayesresp.queries.estimates"),
    "bayesresp.whatif": "bayesresp.queries.whatif",
    "bayesresp.contrasts": "bayesresp.queries.contrasts",
    "bayesresp.scenarios": "bayesresp.queries.scenarios",
    "bayesresp.diagnostics": "bayesresp.checks.diagnostics",
    "bayesresp.comparison": "bayesresp.checks.comparison",
    "bayesresp.sensitivity": "bayesresp.checks.sensitivity",
    "bayesresp.sbc": "bayesresp.checks.calibration",
    "bayesresp.reliability": "bayesresp.checks.reliability",
    "bayesresp.report": "bayesresp.present.report",
}

#: names renamed as well as moved: old module -> {old name: new name}
RENAMED = {
    "bayesresp.draws": {"Draws": "PosteriorArrays"},
    "bayesresp.diagnostics": {"Check": "Criterion"},
}

#: old modules that are packages now -> (the new module of their old names, those names)
MOVED_INTO_PACKAGES = {
    "bayesresp.maths": (
        "bayesresp.maths.cumulative",
        (
            "log_prob",
            "log_prob_interval",
            "category_probs",
            "expected_position",
            "cdf",
            "PAD",
            "LINKS",
            "NUMPY",
            "TENSOR",
        ),
    ),
    "bayesresp.model": (
        "bayesresp.model.graph",
        (
            "build_model",
            "coords_of",
            "data_values",
            "linear_predictor",
            "ResolvedPriors",
            "cutpoint_names",
            "induced_dirichlet",
            "cutpoint_start",
            "coefficient_priors",
        ),
    ),
    "bayesresp.checks": (
        "bayesresp.checks.predictive",
        (
            "posterior_predictive_check",
            "prior_predictive_check",
            "replicate",
            "draw_levels",
            "draw_prior",
            "ordinal_pit",
            "PPCResult",
            "PriorPredictiveResult",
        ),
    ),
}


def _warn(old: str, new: str, stacklevel: int = 3) -> None:
    warnings.warn(
        f"'{old}' moved to '{new}'; the old name will be removed in bayesresp 0.3",
        DeprecationWarning,
        stacklevel=stacklevel,
    )


class _Forward(types.ModuleType):
    def __init__(self, old: str, new: tuple[str, ...]):
        super().__init__(old, f"Deprecated: moved to {', '.join(new)}.")
        self._bayesresp_new = new

    def __getattr__(self, name: str):
        if not name.startswith("__"):
            name = RENAMED.get(self.__name__, {}).get(name, name)
            for new in self._bayesresp_new:
                module = importlib.import_module(new)
                if hasattr(module, name):
                    return getattr(module, name)
        raise AttributeError(f"module '{self.__name__}' has no attribute '{name}'")


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname, path, target=None):
        if fullname in MOVED_MODULES:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        new = MOVED_MODULES[spec.name]
        new = (new,) if isinstance(new, str) else new
        _warn(spec.name, " / ".join(new))
        return _Forward(spec.name, new)

    def exec_module(self, module):
        pass


class _Root(types.ModuleType):
    """The class of the ``bayesresp`` module: importing an old module path sets the
    stand-in as an attribute of the package, which must not hide the public function of
    the same name (``bayesresp.simulate``, ``describe``, ``sbc``, ``reliability``)."""

    def __setattr__(self, name: str, value) -> None:
        if isinstance(value, _Forward):
            return
        super().__setattr__(name, value)


def install(root: types.ModuleType) -> None:
    """Let the old module paths be imported (once per process), without their stand-ins
    hiding ``root``'s public names."""
    root.__class__ = _Root
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.append(_Finder())


def old_name(package: str, name: str):
    """A name the old module ``package`` had, from its new module (with a warning);
    AttributeError when the old module had no such name."""
    new, names = MOVED_INTO_PACKAGES[package]
    if name not in names:
        raise AttributeError(f"module '{package}' has no attribute '{name}'")
    # stacklevel 4: the caller of the package's __getattr__, so the default filters show it
    _warn(f"{package}.{name}", f"{new}.{name}", stacklevel=4)
    return getattr(importlib.import_module(new), name)
