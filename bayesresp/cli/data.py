"""Commands about coded data: validate, describe, simulate, codebook, demo."""

from __future__ import annotations

import json
from pathlib import Path

import click

from bayesresp.cli._app import EXIT_STATUS_HELP, cli
from bayesresp.cli.output import (
    codebook_option,
    delimiter_option,
    emit_table,
    format_option,
    print_fit_report,
    seed_option,
)
from bayesresp.data.codebook import Codebook
from bayesresp.data.describe import describe
from bayesresp.data.simulate import simulate
from bayesresp.data.validation import check, validate


@cli.command("validate", epilog=EXIT_STATUS_HELP)
@click.argument("data", type=click.Path(path_type=Path))
@codebook_option
@delimiter_option
@format_option
def validate_cmd(data: Path, codebook: Path | None, delimiter: str | None, fmt: str) -> None:
    """Check a coded data file (CSV or Parquet) against the codebook.

    Every problem is reported at once, each with its row, column, value and what
    was expected. Exit status 0 when valid, 1 when not, 2 when unreadable.

    \b
    Examples:
      bayesresp validate incidents.csv
      bayesresp validate incidents.csv --codebook my_codebook.json --format json
      bayesresp validate export.csv --delimiter semicolon
    """
    cb = Codebook.coerce(codebook)
    report = check(data, cb, delimiter)
    if fmt == "json":
        click.echo(
            json.dumps(
                {"valid": report.ok, "problems": [p.to_dict() for p in report.problems]}, indent=2
            )
        )
    elif fmt == "csv":
        click.echo(report.to_dataframe().to_csv(index=False), nl=False)
    else:
        for p in report.problems:
            click.echo(str(p))
        if report.ok:
            n = len(report.data)
            click.echo(
                f"{data}: valid against codebook '{cb.name}' ({n} rows"
                f"{', ' + str(len(report.warnings)) + ' warning(s)' if report.warnings else ''})"
            )
        else:
            click.echo(
                f"{data}: INVALID, {len(report.errors)} error(s), {len(report.warnings)} warning(s)"
            )
    if not report.ok:
        raise SystemExit(1)


@cli.command("describe", epilog=EXIT_STATUS_HELP)
@click.argument("data", type=click.Path(path_type=Path))
@codebook_option
@delimiter_option
@format_option
@click.option(
    "--table",
    type=click.Choice(["spectrum", "missions", "departments", "ranges"]),
    default=None,
    help="Print only this table (with --format json or csv: spectrum unless named). "
    "ranges: the rows coded as a range of levels (ambiguous codes), which the spectrum "
    "table does not count.",
)
def describe_cmd(
    data: Path, codebook: Path | None, delimiter: str | None, fmt: str, table: str | None
) -> None:
    """Validate a coded data file, then count responses by level, mission and department.

    Rows coded as a range of levels (ambiguous codes, in the outcome's range columns)
    are counted as ranges, at no level; --table ranges lists them.

    \b
    Examples:
      bayesresp describe incidents.csv
      bayesresp describe incidents.csv --table missions --format csv > missions.csv
    """

    cb = Codebook.coerce(codebook)
    summary = describe(validate(data, cb, delimiter), cb)
    if fmt == "text" and table is None:
        click.echo(str(summary))
        return
    emit_table(getattr(summary, table or "spectrum"), fmt)


@cli.command("simulate", epilog=EXIT_STATUS_HELP)
@click.option(
    "--missions",
    type=click.IntRange(min=1),
    default=12,
    show_default=True,
    help="Number of missions.",
)
@click.option(
    "--rows",
    type=click.IntRange(min=1),
    default=2000,
    show_default=True,
    help="Number of responses.",
)
@click.option(
    "--officials",
    type=click.IntRange(min=1),
    default=None,
    help="Number of officials, at least one per mission [default: rows / 5].",
)
@seed_option(None, "Random seed (same seed, same file).")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Data file to write (.csv or .parquet).",
)
@click.option(
    "--truth",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="JSON file for the true parameters.",
)
@click.option(
    "--coders",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Number of coders (adds coder_id and each coder's leniency).",
)
@click.option(
    "--double-coded",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Share of responses coded twice, by two coders.",
)
@click.option(
    "--ambiguous",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Share of responses coded as a range of 2-3 levels (response_low, response_high).",
)
@click.option(
    "--missing",
    "blanks",
    multiple=True,
    metavar="COLUMN=SHARE",
    help="Leave a covariate (with levels, or a number) empty in a share of the rows, at "
    "random given the mission and the official's hierarchy level (repeatable): "
    "background=0.3, years_at_station=0.2.",
)
def simulate_cmd(
    missions: int,
    rows: int,
    officials: int | None,
    seed: int | None,
    out: Path,
    truth: Path | None,
    coders: int,
    double_coded: float,
    ambiguous: float,
    blanks: tuple[str, ...],
) -> None:
    """Draw a synthetic coded data set from the theory, with known true parameters.

    Every row's 'source' column says the data are synthetic.

    \b
    Example:
      bayesresp simulate --missions 12 --rows 2000 --seed 7 --out sim.csv --truth truth.json
    """
    if rows < missions:
        raise click.BadParameter(
            f"needs at least one row per mission ({missions})", param_hint="--rows"
        )
    if officials is not None and officials < missions:
        raise click.BadParameter(
            f"needs at least one official per mission ({missions})", param_hint="--officials"
        )
    if out.suffix.lower() not in (".csv", ".parquet", ".pq"):
        raise click.BadParameter("the file must end in .csv or .parquet", param_hint="--out")
    if double_coded > 0 and coders < 2:
        raise click.BadParameter(
            "double coding needs --coders 2 or more", param_hint="--double-coded"
        )
    shares = {}
    for item in blanks:
        name, _, share = item.partition("=")
        try:
            shares[name.strip()] = float(share)
        except ValueError:
            raise click.BadParameter(
                f"'{item}' is not COLUMN=SHARE (a share from 0 to below 1: background=0.3)",
                param_hint="--missing",
            ) from None
    try:
        sim = simulate(
            missions=missions,
            rows=rows,
            seed=seed,
            officials=officials,
            coders=coders,
            double_coded=double_coded,
            ambiguous=ambiguous,
            missing=shares or None,
        )
    except ValueError as exc:  # a column or share simulate cannot blank
        raise click.BadParameter(str(exc), param_hint="--missing") from None
    sim.write(out, truth)
    click.echo(
        f"wrote {out}: {len(sim.data)} SYNTHETIC responses, {missions} missions, "
        f"seed {sim.truth['seed']}" + (f"; true parameters in {truth}" if truth else "")
    )


@cli.command("codebook", epilog=EXIT_STATUS_HELP)
@codebook_option
@click.option("--markdown", is_flag=True, help="Write the human-readable Markdown codebook.")
@click.option("--json", "as_json", is_flag=True, help="Write the codebook's JSON.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="File to write instead of standard output.",
)
def codebook_cmd(codebook: Path | None, markdown: bool, as_json: bool, out: Path | None) -> None:
    """Show a codebook: its columns, their kinds, levels and blocks.

    \b
    Examples:
      bayesresp codebook
      bayesresp codebook --markdown --out data_schema/CODEBOOK.md
      bayesresp codebook --codebook my_codebook.json
    """
    cb = Codebook.coerce(codebook)
    if markdown and as_json:
        raise click.UsageError("choose one of --markdown and --json")
    if markdown:
        text = cb.to_markdown()
    elif as_json:
        text = json.dumps(cb.to_dict(), indent=2, ensure_ascii=False) + "\n"
    else:
        lines = [f"{cb.title}", f"outcome '{cb.outcome.name}': " + " < ".join(cb.spectrum)]
        for block, names in cb.blocks().items():
            lines.append(f"{block}:")
            lines += [f"  {n:<26} {cb.fields[n].kind:<12} {cb.fields[n].expected()}" for n in names]
        lines.append(
            "groups: "
            + ", ".join(f.name + (" (required)" if f.required else "") for f in cb.groups)
        )
        text = "\n".join(lines) + "\n"
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        click.echo(f"wrote {out}")


@cli.command("demo", epilog=EXIT_STATUS_HELP)
@click.option(
    "--draws",
    type=click.IntRange(min=50),
    default=1000,
    show_default=True,
    help="Posterior draws per chain.",
)
@seed_option(1)
def demo_cmd(draws: int, seed: int) -> None:
    """Validate the embedded synthetic example and fit the hierarchical model to it.

    Prints the data summary, the parameter summary, the variance decomposition and a
    one-line convergence verdict.

    \b
    Example:
      bayesresp demo
    """
    from bayesresp.api import fit
    from bayesresp.data.examples import example_path, load_example

    click.echo(
        f"Validating the embedded example {example_path().name} against the default codebook ..."
    )
    data = load_example()
    summary = describe(data)
    click.echo(summary.text(groups=False))
    click.echo("\nFitting models/hierarchical.toml (4 chains) ...")
    result = fit(data, "hierarchical", draws=draws, tune=draws, chains=4, seed=seed)
    click.echo("")
    print_fit_report(result)
