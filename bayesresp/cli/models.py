"""Commands about models: fit, summary."""

from __future__ import annotations

import json
from pathlib import Path

import click

from bayesresp.cli._app import EXIT_STATUS_HELP, cli, interrupted
from bayesresp.cli.output import (
    ci_option,
    codebook_option,
    delimiter_option,
    emit_table,
    format_option,
    print_fit_report,
    seed_option,
)
from bayesresp.maths.families import FAMILIES
from bayesresp.maths.links import LINKS
from bayesresp.maths.thresholds import STRUCTURES

TABLES = ("parameters", "odds", "groups", "variance")


@cli.command("fit", epilog=EXIT_STATUS_HELP)
@click.argument("data", type=click.Path(path_type=Path))
@click.option(
    "--spec",
    "spec",
    required=True,
    help="Model specification: a TOML file, or baseline / hierarchical / full.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    required=True,
    help="Fit file to write (.nc NetCDF, or .zarr).",
)
@click.option(
    "--overwrite",
    is_flag=True,
    help="Replace --out if it exists (only ever a bayesresp fit, and atomically).",
)
@codebook_option
@delimiter_option
@click.option("--draws", type=click.IntRange(min=1), default=1000, show_default=True)
@click.option("--tune", type=click.IntRange(min=0), default=1000, show_default=True)
@click.option("--chains", type=click.IntRange(min=1), default=4, show_default=True)
@seed_option(None, "Random seed (same seed, same draws).")
@click.option(
    "--sampler",
    type=click.Choice(["nutpie", "pymc", "numpyro"]),
    default="nutpie",
    show_default=True,
)
@click.option(
    "--missing",
    type=click.Choice(["error", "drop", "model"]),
    default="error",
    show_default=True,
    help="Rows lacking a value the formula needs: stop, drop them, or keep them and sum "
    "out their missing covariates with levels in the model.",
)
@click.option(
    "--target-accept",
    type=click.FloatRange(0.5, 0.999),
    default=0.9,
    show_default=True,
    help="NUTS target acceptance rate.",
)
@click.option(
    "--kernel/--no-kernel",
    default=None,
    help="With nutpie: sample bayesresp's compiled log density (default: for every model "
    "it covers) or PyMC's graph.",
)
@click.option(
    "--centring/--no-centring",
    default=None,
    help="Hierarchically centre every term of a chain of nested group intercepts, or none "
    "(default: from the innermost term outward while each term's levels carry a strong "
    "signal).",
)
@click.option(
    "--centre",
    "centre",
    multiple=True,
    metavar="TERM",
    help="Hierarchically centre this group term of nested intercepts (its label, such as "
    "mission or mission:department); repeat for several. Instead of --centring.",
)
@click.option(
    "--family",
    type=click.Choice(list(FAMILIES)),
    default=None,
    help="Ordinal family, in place of the specification's (default there: cumulative): "
    "sratio / cratio, a climb up the spectrum one level at a time; acat, each level "
    "against the one below it.",
)
@click.option(
    "--link",
    type=click.Choice(list(LINKS)),
    default=None,
    help="Link, in place of the specification's (default there: logit).",
)
@click.option(
    "--thresholds",
    type=click.Choice(list(STRUCTURES)),
    default=None,
    help="Thresholds, in place of the specification's (default there: flexible): "
    "equidistant keeps the first and last free and spaces the others evenly.",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def fit_cmd(
    data: Path,
    spec: str,
    out: Path,
    overwrite: bool,
    codebook: Path | None,
    delimiter: str | None,
    draws: int,
    tune: int,
    chains: int,
    seed: int | None,
    sampler: str,
    missing: str,
    target_accept: float,
    kernel: bool | None,
    centring: bool | None,
    centre: tuple[str, ...],
    family: str | None,
    link: str | None,
    thresholds: str | None,
    quiet: bool,
) -> None:
    """Fit a model to a coded data file and save the fit.

    \b
    Examples:
      bayesresp fit incidents.csv --spec models/hierarchical.toml --out fit.nc --seed 1
      bayesresp fit incidents.csv --spec full --out full.nc --draws 2000 --chains 4
      bayesresp fit incidents.csv --spec hierarchical --family sratio --out seq.nc

    An existing --out is refused (before sampling) unless --overwrite is given; even
    then only a bayesresp fit is replaced, never another file or folder. Ctrl-C stops
    sampling: nothing is saved, an existing --out is left as it was, exit status 130.
    """
    from bayesresp.api import fit
    from bayesresp.inference.fitfile import check_target

    if out.suffix not in (".nc", ".zarr"):
        raise click.BadParameter("the fit file must end in .nc or .zarr", param_hint="--out")
    if not out.absolute().parent.is_dir():  # before sampling, not after
        raise click.BadParameter(
            f"the folder {out.absolute().parent} does not exist", param_hint="--out"
        )
    if centre and centring is not None:
        raise click.UsageError("give --centre TERM or --centring/--no-centring, not both")
    check_target(out, overwrite)  # before sampling, not after
    existed = out.exists()
    if delimiter is not None:  # read the file here, at the delimiter asked for
        from bayesresp.data.codebook import Codebook
        from bayesresp.data.validation import check
        from bayesresp.errors import DataValidationError

        cb = Codebook.coerce(codebook)
        report = check(data, cb, delimiter)
        if not report.ok:
            raise DataValidationError(report.problems, source=str(data))
        data, codebook = report.data, cb  # fit() warns of unknown columns, once
    try:
        result = fit(
            data,
            spec,
            codebook=codebook,
            draws=draws,
            tune=tune,
            chains=chains,
            seed=seed,
            sampler=sampler,
            missing=missing,
            progress=not quiet,
            target_accept=target_accept,
            kernel=kernel,
            centring=centre or centring,
            family=family,
            link=link,
            thresholds=thresholds,
        )
        result.save(out)  # atomic: an interrupt leaves the old file (or none)
    except KeyboardInterrupt:
        interrupted(
            "the fit was stopped before it finished; nothing was saved"
            + (f" ({out} is unchanged)" if existed else "")
        )
    try:
        print_fit_report(result)
    except KeyboardInterrupt:
        interrupted(f"the fit was saved to {out}; its report was not printed")
    click.echo(f"\nSaved the fit to {out}")


@cli.command("summary", epilog=EXIT_STATUS_HELP)
@click.argument("fit_file", type=click.Path(path_type=Path))
@click.option(
    "--table",
    type=click.Choice(TABLES),
    default=None,
    help="One table only: parameters, odds (odds ratios), groups (group effects) "
    "or variance (variance decomposition).",
)
@ci_option("Probability of the central interval.")
@format_option
def summary_cmd(fit_file: Path, table: str | None, ci: float, fmt: str) -> None:
    """Print the summary of a saved fit.

    \b
    Examples:
      bayesresp summary fit.nc
      bayesresp summary fit.nc --table variance --format csv
    """
    from bayesresp.api import load_fit

    fit = load_fit(fit_file)
    if table is None and fmt == "text":
        print_fit_report(fit, ci)
        return
    frames = {
        "parameters": lambda: fit.summary(ci=ci),
        "odds": lambda: fit.odds_ratios(ci=ci),
        "groups": lambda: fit.group_effects(ci=ci),
        "variance": lambda: fit.variance_decomposition(ci=ci),
    }
    if table is None:  # every table, machine-readable
        if fmt == "csv":
            raise click.UsageError("--format csv needs --table (one table per CSV)")
        from bayesresp.queries.estimates import no_decomposition

        why = no_decomposition(fit)
        payload = {
            k: (
                {"not_available": why}
                if k == "variance" and why is not None
                else json.loads(f().reset_index().to_json(orient="records"))
            )
            for k, f in frames.items()
        }
        click.echo(json.dumps(payload, indent=2))
        return
    emit_table(frames[table](), fmt)
