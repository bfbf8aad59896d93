"""The report command: one self-contained HTML file describing a fit."""

from __future__ import annotations

from pathlib import Path

import click

from bayesresp.cli._app import EXIT_STATUS_HELP, cli
from bayesresp.cli.output import ci_option


@cli.command("report", epilog=EXIT_STATUS_HELP)
@click.argument("fit_file", type=click.Path(path_type=Path))
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="HTML file to write (.html).",
)
@click.option(
    "--profiles",
    type=click.Path(path_type=Path),
    default=None,
    help="Profiles (CSV or Parquet, one hypothetical incident per row) for a what-if "
    "section, as 'bayesresp whatif' reads them.",
)
@click.option(
    "--groups",
    type=click.Choice(["known", "new", "average"]),
    default="known",
    show_default=True,
    help="Group effects of the profiles: their own mission/department (known), a fresh "
    "one drawn from the population (new), or none (average).",
)
@click.option(
    "--fill-typical",
    is_flag=True,
    help="Fill covariates the profiles lack with the sample's typical value.",
)
@ci_option("Probability of the central intervals in the tables.")
@click.option(
    "--by",
    default="auto",
    show_default=True,
    help="Column for the posterior predictive check by group: auto (mission, or the "
    "model's outermost grouping column), a column name, or none.",
)
@click.option(
    "--ppc-draws",
    type=click.IntRange(min=10),
    default=200,
    show_default=True,
    help="Posterior draws used to replicate the data in the predictive checks.",
)
@click.option("--title", default=None, help="Heading of the report.")
@click.option(
    "--po-check",
    is_flag=True,
    help="Add a section on proportional odds (one refit per covariate: slow).",
)
def report_cmd(
    fit_file: Path,
    out: Path,
    profiles: Path | None,
    groups: str,
    fill_typical: bool,
    ci: float,
    by: str,
    ppc_draws: int,
    title: str | None,
    po_check: bool,
) -> None:
    """Write a self-contained HTML report of a fit, to share with co-authors.

    One file that any browser opens without a network: data overview, model
    specification, parameter summary, variance decomposition, convergence
    diagnostics, posterior predictive checks and, with --profiles, what-if
    predictions; with --po-check a check of proportional odds; the footer records
    versions, sampler, seed and data hash.

    \b
    Examples:
      bayesresp report fit.nc --out report.html
      bayesresp report fit.nc --out report.html --profiles profiles.csv --groups new
    """
    import matplotlib

    matplotlib.use("Agg")
    from bayesresp.api import load_fit
    from bayesresp.present.report import write_report

    if out.suffix.lower() not in (".html", ".htm"):
        raise click.BadParameter("the report file must end in .html", param_hint="--out")
    fit = load_fit(fit_file)
    path = write_report(
        fit,
        out,
        profiles=profiles,
        groups=groups,
        fill="typical" if fill_typical else None,
        ci=ci,
        ppc_by=None if by == "none" else by,
        ppc_draws=ppc_draws,
        title=title,
        po_check=po_check or None,
    )
    click.echo(f"wrote {path}")
