"""The house: the folder tree is the architecture, and imports only go down.

The layers contract lives in pyproject.toml ([tool.importlinter]); this test runs it, so
`make test` fails on an upward import or a cycle between layers. A second test finds
cycles inside a layer (import-linter checks only between layers), and a third checks at
run time that the light commands do not load the heavy libraries.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("pymc", "pytensor", "numba", "nutpie", "arviz")


def test_layers_contract_is_kept():
    from importlinter import cli as lint

    assert lint.lint_imports(config_filename=str(ROOT / "pyproject.toml")) == 0


def test_no_import_cycles_inside_the_package():
    graph = grimp.build_graph("bayesresp", include_external_packages=False)
    modules = sorted(graph.modules)
    cycles = []
    for a in modules:
        for b in graph.find_modules_directly_imported_by(a):
            if a != b and graph.chain_exists(importer=b, imported=a):
                cycles.append((a, b))
    assert not cycles, f"import cycles: {cycles[:10]}"


def _loaded_after(code: str) -> list[str]:
    probe = (
        f"{code}\nimport sys\n"
        f"print('LOADED:', *(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return out.stderr.strip().splitlines()[-1].split()[1:]


@pytest.mark.parametrize(
    "code",
    [
        "import bayesresp",
        "import bayesresp; bayesresp.validate; bayesresp.check; bayesresp.describe",
        "import bayesresp; bayesresp.simulate(missions=2, rows=40, seed=1)",
        "import bayesresp; bayesresp.Codebook.default().to_markdown()",
        "import bayesresp; bayesresp.describe(bayesresp.load_example()).text()",
        "import bayesresp; bayesresp.ModelSpec.coerce('hierarchical').parsed",
        "from bayesresp.cli import cli",
        # a submodule of a package that forwards the old module's names loads only itself
        "from bayesresp.model import design, spec",
    ],
)
def test_light_paths_do_not_load_pymc_pytensor_or_numba(code):
    assert _loaded_after(code) == []


def test_validate_command_does_not_load_pymc_pytensor_or_numba():
    from bayesresp.data.examples import example_path

    code = (
        "import sys\n"
        "from bayesresp.cli import main\n"
        f"sys.argv = ['bayesresp', 'validate', {str(example_path())!r}]\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert e.code in (0, None), e.code\n"
    )
    assert _loaded_after(code) == []


def test_public_names_resolve_and_errors_live_in_one_module():
    import bayesresp
    from bayesresp import errors

    for name in bayesresp.__all__:
        assert getattr(bayesresp, name) is not None, name
    classes = [v for v in vars(errors).values() if isinstance(v, type) and issubclass(v, Exception)]
    exported = {getattr(bayesresp, n) for n in bayesresp.__all__}
    assert set(classes) <= exported, set(classes) - exported
    # No error class is defined anywhere else in the package.
    for path in (ROOT / "bayesresp").rglob("*.py"):
        if path.name == "errors.py":
            continue
        for line in path.read_text().splitlines():
            assert not (line.startswith("class ") and "Error(" in line), f"{path}: {line}"


def test_readme_layer_table_is_the_contract():
    import re
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    (contract,) = [c for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "layers"]
    readme = (ROOT / "README.md").read_text()
    table = readme.split("<!-- layers: start -->")[1].split("<!-- layers: end -->")[0]
    rows = re.findall(r"^\| `(.+?)` \|", table, re.M)
    rows = [r.replace(" \\| ", " | ") for r in rows]
    assert rows == contract["layers"]


def test_old_module_paths_still_import_with_a_deprecation_warning():
    """The module paths of 0.1 forward to the new places (and say where)."""
    code = (
        "import warnings\n"
        "warnings.simplefilter('error', DeprecationWarning)\n"
        "try:\n"
        "    import bayesresp.kernel\n"
        "except DeprecationWarning as w:\n"
        "    print(w)\n"
        "warnings.simplefilter('ignore')\n"
        "from bayesresp.simulate import DEFAULT_EFFECTS\n"
        "from bayesresp.maths import log_prob\n"
        "from bayesresp.kernel import pack, callbacks\n"
        "from bayesresp.model import build_model\n"
        "from bayesresp.checks import prior_predictive_check\n"
        "from bayesresp.fitting import fit, SamplerSettings\n"
        "import bayesresp.inference.packing as packing, bayesresp.inference.kernel as k\n"
        "assert pack is packing.pack and callbacks is k.callbacks\n"
        "assert k.__spec__.name == 'bayesresp.inference.kernel'\n"
        "import bayesresp, bayesresp.describe\n"
        "from bayesresp.draws import Draws\n"
        "from bayesresp.diagnostics import Check\n"
        "assert Draws.__name__ == 'PosteriorArrays' and Check.__name__ == 'Criterion'\n"
        "# the stand-ins of old module paths never hide the public functions\n"
        "assert bayesresp.simulate(missions=2, rows=40, seed=1).data.shape[0] == 40\n"
        "assert callable(bayesresp.describe)\n"
        "print('ok', len(DEFAULT_EFFECTS) > 0)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    ).stdout
    assert "'bayesresp.kernel' moved to 'bayesresp.inference.kernel" in out
    assert out.strip().endswith("ok True")
    import bayesresp.maths

    with pytest.raises(AttributeError):
        bayesresp.maths.no_such_name  # noqa: B018


def test_fit_draws_is_a_deprecated_name_of_fit_arrays():
    """``draws`` means a number of draws (draws=1000, fit.meta["draws"]); the posterior as
    arrays is ``fit.arrays``. The old attribute still works, with a warning."""
    import xarray as xr

    from bayesresp.inference.arrays import PosteriorArrays
    from bayesresp.inference.record import FittedModel
    from bayesresp.model.design import make_design
    from bayesresp.model.spec import ModelSpec

    data = bayesresp_example()
    spec = ModelSpec("response ~ severity")
    design = make_design(data, spec.parsed, _codebook())
    S, K = 6, len(design.info.spectrum)
    post = xr.Dataset(
        {
            "b": (("chain", "draw", "coef"), np.zeros((1, S, len(design.info.columns)))),
            "cutpoints": (("chain", "draw", "cutpoint"), np.tile(np.arange(K - 1.0), (1, S, 1))),
        }
    )
    record = FittedModel(
        xr.DataTree.from_dict({"posterior": post}),
        spec,
        _codebook(),
        data,
        design.info,
        {"draws": S},
    )
    assert isinstance(record.arrays, PosteriorArrays) and record.arrays.n_draws == S
    with pytest.warns(DeprecationWarning, match="fit.arrays"):
        assert record.draws is record.arrays


def bayesresp_example():
    from bayesresp.data.examples import load_example

    return load_example().head(50)


def _codebook():
    from bayesresp.data.codebook import Codebook

    return Codebook.default()
