"""Commands that check fits and data: diagnose, check, compare, reliability."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import click

from bayesresp.cli._app import EXIT_STATUS_HELP, cli, deprecated_alias
from bayesresp.cli.output import (
    boot_option,
    ci_option,
    codebook_option,
    delimiter_option,
    emit_table,
    format_option,
    seed_option,
)


@cli.command("diagnose", epilog=EXIT_STATUS_HELP)
@click.argument("fit_file", type=click.Path(path_type=Path))
@format_option
def diagnose_cmd(fit_file: Path, fmt: str) -> None:
    """Convergence diagnostics with verdicts; exit status 1 when a check fails.

    \b
    Example:
      bayesresp diagnose fit.nc
    """
    from bayesresp.api import load_fit

    report = load_fit(fit_file).diagnose()
    if fmt == "json":
        click.echo(json.dumps(report.to_dict(), indent=2))
    elif fmt == "csv":
        click.echo(report.to_dataframe().to_csv(), nl=False)
    else:
        click.echo(str(report))
    if not report.ok:
        raise SystemExit(1)


@cli.command("po-check", epilog=EXIT_STATUS_HELP)
@click.argument("fit_file", type=click.Path(path_type=Path))
@click.option(
    "--covariate",
    "covariates",
    multiple=True,
    help="A covariate to check (repeatable); a+b checks a and b jointly (sratio, cratio, "
    "acat). By default every main effect in no interaction and not a mo() term.",
)
@click.option(
    "--block",
    "blocks",
    multiple=True,
    help="A block of the theory's factor families (individual, positional, ...) whose "
    "covariates are checked jointly (repeatable; sratio, cratio, acat).",
)
@seed_option(None, "Seed of the refits (default: the fit's).")
@format_option
def po_check_cmd(
    fit_file: Path, covariates: tuple[str, ...], blocks: tuple[str, ...], seed: int | None, fmt: str
) -> None:
    """Check proportional odds, one covariate (or group) at a time; exit status 1 when
    one fails.

    Refits the model with each covariate category-specific (cs(x): one effect per
    threshold) and compares the two by PSIS-LOO; prints the elpd difference with its
    standard error, how many thresholds' deviations stand apart from zero, and a verdict
    with what to do next.

    \b
    Example:
      bayesresp po-check fit.nc --covariate severity --covariate background
      bayesresp po-check seq.nc --covariate severity+background --block positional
    """
    from bayesresp.api import load_fit

    chosen = [tuple(v.strip() for v in c.split("+")) if "+" in c else c.strip() for c in covariates]
    result = load_fit(fit_file).po_check(chosen or None, blocks=list(blocks) or None, seed=seed)
    if fmt == "json":
        click.echo(json.dumps(result.to_dict(), indent=2, default=float))
    elif fmt == "csv":
        click.echo(result.table.to_csv(), nl=False)
    else:
        click.echo(str(result))
    if not result.ok:
        raise SystemExit(1)


@cli.command("ppc", epilog=EXIT_STATUS_HELP)
@click.argument("fit_file", type=click.Path(path_type=Path))
@click.option(
    "--by",
    multiple=True,
    help="Also check counts within each value of a column (repeatable), e.g. --by mission.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for the plots (PNG, and SVG with --svg).",
)
@click.option("--svg", is_flag=True, help="Also write SVG plots.")
@format_option
def check_cmd(fit_file: Path, by: tuple[str, ...], out: Path | None, svg: bool, fmt: str) -> None:
    """Posterior predictive checks: observed vs replicated counts of each level.

    Lists the cells whose observed count falls outside the 95% predictive interval
    and tests the ordinal PIT for uniformity; writes plots with --out.

    \b
    Examples:
      bayesresp ppc fit.nc --by mission --out checks/
    """
    import matplotlib

    matplotlib.use("Agg")
    from bayesresp.api import load_fit

    fit = load_fit(fit_file)
    results = {"overall": fit.ppc()} | {b: fit.ppc(by=b) for b in by}
    for name, r in results.items():
        if fmt == "text":
            click.echo(str(r) + "\n")
        else:
            emit_table(r.table, fmt)
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            fig = r.plot().figure
            for ext in ("png", "svg") if svg else ("png",):
                fig.savefig(out / f"ppc_{name}.{ext}", dpi=120)
            if name == "overall":
                pit = r.plot_pit().figure
                for ext in ("png", "svg") if svg else ("png",):
                    pit.savefig(out / f"pit.{ext}", dpi=120)
            if fmt == "text":
                click.echo(f"wrote {out / f'ppc_{name}.png'}")


# 'check' was this command's name in 0.1; "check" now means only checking data
# (bayesresp.check). The old name still works, with a note.
deprecated_alias(check_cmd, "check")


#: Options of the commands that run a batch of fits (bayesresp.inference.batches).
store_option = click.option(
    "--store",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for the batch's results as they arrive; run again with the same "
    "arguments and store to finish a killed run.",
)
scheduler_option = click.option(
    "--scheduler",
    default=None,
    metavar="ADDRESS",
    help="A Dask scheduler (tcp://host:8786) to run the fits on, instead of local processes.",
)


class _Folds(click.ParamType):
    """A number of random folds (2 or more), or a grouping column to leave out one group
    of at a time."""

    name = "K|COLUMN"

    def convert(self, value, param, ctx):
        if isinstance(value, int):
            number = value
        elif isinstance(value, str) and value.strip().lstrip("+-").isdigit():
            number = int(value)
        elif isinstance(value, str) and value.strip():
            return value.strip()
        else:
            self.fail("give a number of folds or a grouping column", param, ctx)
        if number < 2:
            self.fail(f"{value} folds: give 2 or more, or a grouping column", param, ctx)
        return number


@cli.command("compare", epilog=EXIT_STATUS_HELP)
@click.argument("fit_files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--no-refit",
    is_flag=True,
    help="Keep PSIS estimates for rows with high Pareto k instead of refitting without them.",
)
@click.option(
    "--folds",
    type=_Folds(),
    default=None,
    help="K: K-fold cross-validation for a model with more than ten high-k rows. A "
    "grouping column (mission): leave-one-group-out cross-validation of every model, "
    "how well it predicts a new mission.",
)
@click.option(
    "--store",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="With --folds COLUMN: a folder keeping each model's terms as they arrive; run "
    "again with the same arguments to finish a killed run.",
)
@click.option(
    "--scheduler",
    default=None,
    metavar="ADDRESS",
    help="A Dask scheduler (tcp://host:8786) to run the refits on (exact LOO, K-fold, "
    "leave-one-group-out).",
)
@format_option
def compare_cmd(
    fit_files: tuple[Path, ...],
    no_refit: bool,
    folds: int | str | None,
    store: Path | None,
    scheduler: str | None,
    fmt: str,
) -> None:
    """Compare fits of the same data by PSIS-LOO (elpd differences, stacking weights),
    or with --folds mission by leave-one-mission-out cross-validation.

    Each fit is labelled by its file name without the extension; fits whose names
    collide are labelled by the shortest end of their paths that tells them apart
    (a/fit.nc and b/fit.nc become a/fit and b/fit). A file given twice is refused.

    \b
    Examples:
      bayesresp compare baseline.nc hierarchical.nc full.nc
      bayesresp compare baseline.nc hierarchical.nc --folds mission
      bayesresp compare baseline.nc hierarchical.nc --folds mission --store cv/
    """
    from bayesresp.api import load_fit
    from bayesresp.checks.comparison import compare

    if store is not None and not isinstance(folds, str):
        raise click.BadParameter(
            "--store keeps leave-one-group-out terms: give --folds COLUMN too",
            param_hint="--store",
        )
    fits = {label: load_fit(p) for label, p in fit_labels(fit_files).items()}
    with _dask_client(scheduler) as client:
        result = compare(fits, refit_high_k=not no_refit, folds=folds, client=client, store=store)
    if fmt == "text":
        click.echo(str(result))
    else:
        emit_table(result.table, fmt)


def fit_labels(paths: tuple[Path, ...]) -> dict[str, Path]:
    """A distinct label for each fit file: its name without the extension, or, where
    names collide, the shortest end of the path that tells the colliding files apart.

    The file given twice (the same file by any path) is refused: a fit compared with
    itself, or two fits merged under one label, would mislead.
    """
    seen: dict[Path, Path] = {}
    for p in paths:
        key = p.resolve()
        if key in seen:
            raise click.BadParameter(
                f"{p} is given twice"
                + (f" (as {seen[key]})" if seen[key] != p else "")
                + "; name each fit once",
                param_hint="FIT_FILES",
            )
        seen[key] = p
    parts = [p.absolute().parts for p in paths]

    def candidates(i: int) -> list[str]:
        # the name without, then with, its extension; then one more folder each time
        *folders, name = parts[i]
        stem = Path(name).stem
        out = [stem, name]
        for k in range(1, len(folders) + 1):
            out += ["/".join([*folders[-k:], stem]), "/".join([*folders[-k:], name])]
        return out

    options = [candidates(i) for i in range(len(paths))]
    labels = []
    for i, mine in enumerate(options):
        for level, label in enumerate(mine):
            others = {o[min(level, len(o) - 1)] for j, o in enumerate(options) if j != i}
            if label not in others:
                break
        labels.append(label)
    if len(set(labels)) != len(labels):  # labels of different depths that collide
        labels = [str(p) for p in paths]
    return dict(zip(labels, paths, strict=True))


@cli.command("reliability", epilog=EXIT_STATUS_HELP)
@click.argument("data", type=click.Path(path_type=Path))
@codebook_option
@delimiter_option
@boot_option()
@seed_option(0, "Random seed of the bootstrap.")
@format_option
def reliability_cmd(
    data: Path, codebook: Path | None, delimiter: str | None, boot: int, seed: int, fmt: str
) -> None:
    """Coding reliability: Krippendorff's ordinal alpha of responses coded by several coders.

    The file has one row per response and coder (columns response_id, coder_id and the
    outcome).

    \b
    Example:
      bayesresp reliability double_coded.csv
    """
    from bayesresp.checks.reliability import reliability
    from bayesresp.data.codebook import Codebook
    from bayesresp.data.validation import validate

    cb = Codebook.coerce(codebook)
    frame = validate(data, cb, delimiter)
    report = reliability(
        frame, value=cb.outcome.name, n_boot=boot, seed=seed, ranges=cb.range_columns
    )
    if fmt == "json":
        click.echo(json.dumps(report.to_dict(), indent=2))
    elif fmt == "csv":
        click.echo(report.disagreement.to_csv(), nl=False)
    else:
        click.echo(str(report))


@cli.command("coders", epilog=EXIT_STATUS_HELP)
@click.argument("fit_file", type=click.Path(path_type=Path))
@ci_option()
@boot_option("Bootstrap resamples for the data's alpha.")
@seed_option(1, "Random seed of the bootstrap.")
@format_option
def coders_cmd(fit_file: Path, ci: float, boot: int, seed: int, fmt: str) -> None:
    """Model-based coding reliability of a fit with the coders' layer.

    Each coder's leniency, spread and agreement with the true level, and the ordinal
    alpha the model expects, beside Krippendorff's alpha of the same codes.

    \b
    Example:
      bayesresp coders double_coded_fit.nc
    """
    from bayesresp.api import load_fit

    result = load_fit(fit_file).coder_reliability(ci=ci, n_boot=boot, seed=seed)
    if fmt == "json":
        click.echo(json.dumps(result.to_dict(), indent=2))
    elif fmt == "csv":
        click.echo(result.coders.to_csv(), nl=False)
    else:
        click.echo(str(result))


@contextlib.contextmanager
def _dask_client(address: str | None):
    """A ``distributed.Client`` connected to ``address`` (None: no client), closed after."""
    if address is None:
        yield None
        return
    from bayesresp.errors import BatchError

    try:
        from distributed import Client
    except ImportError as exc:
        raise BatchError(
            "--scheduler needs Dask's distributed package: pip install 'bayesresp[cluster]'"
        ) from exc
    try:
        client = Client(address, timeout="10s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise BatchError(f"cannot reach the Dask scheduler at {address}: {exc}") from exc
    try:
        yield client
    finally:
        client.close()


@cli.command("sbc", epilog=EXIT_STATUS_HELP)
@click.argument("data", type=click.Path(path_type=Path))
@click.option("--spec", required=True, help="Generating (and fitting) model specification.")
@click.option("--fit-spec", default=None, help="A different fitting specification.")
@codebook_option
@delimiter_option
@click.option("--simulations", type=click.IntRange(min=2), default=200, show_default=True)
@click.option("--draws", type=click.IntRange(min=20), default=500, show_default=True)
@seed_option(0)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for the ranks (CSV) and rank histograms (PNG).",
)
@store_option
@scheduler_option
@format_option
def sbc_cmd(
    data: Path,
    spec: str,
    fit_spec: str | None,
    codebook: Path | None,
    delimiter: str | None,
    simulations: int,
    draws: int,
    seed: int,
    out: Path | None,
    store: Path | None,
    scheduler: str | None,
    fmt: str,
) -> None:
    """Simulation-based calibration on a data set's covariates; exit 1 if miscalibrated.

    Runs the simulations in parallel on local processes, or on a Dask cluster
    (--scheduler). With --store, each finished chunk is written as it arrives; the same
    command run again after an interrupt fits only what is missing.

    \b
    Examples:
      bayesresp sbc incidents.csv --spec hierarchical --simulations 200 --out sbc/
      bayesresp sbc incidents.csv --spec hierarchical --store sbc-batch/ \\
          --scheduler tcp://10.0.0.5:8786
    """
    import matplotlib

    matplotlib.use("Agg")
    from bayesresp.checks.calibration import sbc
    from bayesresp.data.codebook import Codebook
    from bayesresp.data.validation import validate

    cb = Codebook.coerce(codebook)
    frame = validate(data, cb, delimiter)
    with _dask_client(scheduler) as client:
        result = sbc(
            frame,
            spec,
            fit_spec=fit_spec,
            codebook=cb,
            simulations=simulations,
            draws=draws,
            tune=draws,
            seed=seed,
            client=client,
            store=store,
        )
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        result.ranks.to_csv(out / "ranks.csv")
        result.plot().figure.savefig(out / "ranks.png", dpi=120)
    if fmt == "text":
        click.echo(str(result))
    else:
        emit_table(result.uniformity(), fmt)
    if result.miscalibrated():
        raise SystemExit(1)


class _Design(click.ParamType):
    """A study design: MISSIONSxROWS, optionally @SHARE double-coded (8x200@0.3)."""

    name = "MISSIONSxROWS[@SHARE]"

    def convert(self, value, param, ctx):
        if isinstance(value, dict):
            return value
        text = str(value).strip().lower()
        body, _, share = text.partition("@")
        missions, sep, rows = body.partition("x")
        try:
            if not sep:
                raise ValueError(text)
            out = {"missions": int(missions), "rows": int(rows)}
            if share:
                out["double_coded"] = float(share)
        except ValueError:
            self.fail(
                f"{value!r}: give MISSIONSxROWS, e.g. 8x200, or 8x200@0.3 with 30% double-coded",
                param,
                ctx,
            )
        return out


class _Effect(click.ParamType):
    """An assumed effect: COVARIATE=NUMBER or COVARIATE.LEVEL=NUMBER."""

    name = "COVARIATE[.LEVEL]=NUMBER"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        name, sep, number = str(value).partition("=")
        try:
            if not sep or not name.strip():
                raise ValueError(value)
            size = float(number)
        except ValueError:
            self.fail(
                f"{value!r}: give COVARIATE[.LEVEL]=NUMBER, e.g. "
                "background.human_rights_legal=0.5 or years_at_station=-0.2",
                param,
                ctx,
            )
        covariate, _, level = name.strip().partition(".")
        return covariate, level or None, size


@cli.command("plan", epilog=EXIT_STATUS_HELP)
@click.option("--spec", required=True, help="The specification the study will fit.")
@click.option(
    "--design",
    "designs",
    type=_Design(),
    multiple=True,
    required=True,
    help="A candidate design, MISSIONSxROWS[@SHARE double-coded]; repeat for each.",
)
@click.option(
    "--effect",
    "effects",
    type=_Effect(),
    multiple=True,
    help="An assumed effect (latent scale), COVARIATE[.LEVEL]=NUMBER; repeat. The "
    "simulator's defaults otherwise.",
)
@click.option("--target", "targets", multiple=True, help="A coefficient to report; repeat.")
@click.option("--simulations", type=click.IntRange(min=2), default=50, show_default=True)
@click.option("--draws", type=click.IntRange(min=20), default=300, show_default=True)
@click.option("--ci", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.9)
@seed_option(0)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for the table (CSV), the per-simulation rows (CSV) and a power plot (PNG).",
)
@store_option
@scheduler_option
@format_option
def plan_cmd(
    spec: str,
    designs: tuple[dict, ...],
    effects: tuple[tuple, ...],
    targets: tuple[str, ...],
    simulations: int,
    draws: int,
    ci: float,
    seed: int,
    out: Path | None,
    store: Path | None,
    scheduler: str | None,
    fmt: str,
) -> None:
    """Plan a study before coding it: power and interval width of each coefficient for
    candidate designs, by simulating and fitting.

    \b
    Example:
      bayesresp plan --spec hierarchical --design 8x200 --design 12x400@0.3 \\
          --effect background.human_rights_legal=0.5 --simulations 50 --out plan/
    """
    import matplotlib

    matplotlib.use("Agg")
    from bayesresp.checks.planning import plan

    assumed: dict = {}
    for covariate, level, size in effects:
        before = assumed.get(covariate)
        if (level is None and before is not None) or (
            level is not None and before is not None and not isinstance(before, dict)
        ):
            raise click.BadParameter(
                f"{covariate} is given twice, or both as a whole and by level",
                param_hint="--effect",
            )
        if level is None:
            assumed[covariate] = size
        else:
            assumed.setdefault(covariate, {})[level] = size
    with _dask_client(scheduler) as client:
        result = plan(
            spec,
            list(designs),
            effects=assumed or None,
            targets=list(targets) or None,
            simulations=simulations,
            draws=draws,
            tune=draws,
            ci=ci,
            seed=seed,
            client=client,
            store=store,
        )
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        result.table.to_csv(out / "plan.csv")
        result.rows.to_csv(out / "simulations.csv")
        result.plot().figure.savefig(out / "power.png", dpi=120)
    if fmt == "text":
        click.echo(str(result))
    else:
        emit_table(result.table, fmt)
