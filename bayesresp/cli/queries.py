"""Commands that ask a fitted model questions: whatif, contrast, scenario, effects,
imputed."""

from __future__ import annotations

from pathlib import Path

import click

from bayesresp.cli._app import EXIT_STATUS_HELP, cli
from bayesresp.cli.output import ci_option, delimiter_option, emit_table, format_option

_groups_option = click.option(
    "--groups",
    type=click.Choice(["known", "new", "average"]),
    default="known",
    show_default=True,
    help="Group effects: the profile's own mission/department (known), a fresh one drawn "
    "from the population (new), or none (average).",
)
_fill_option = click.option(
    "--fill-typical",
    is_flag=True,
    help="Fill covariates the profiles lack with the sample's typical value.",
)
_ci_option = ci_option()


@cli.command("whatif", epilog=EXIT_STATUS_HELP)
@click.argument("fit_file", type=click.Path(path_type=Path))
@click.argument("profiles", type=click.Path(path_type=Path))
@_groups_option
@_fill_option
@_ci_option
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the full table (one row per profile and level) as CSV.",
)
@delimiter_option
@format_option
def whatif_cmd(
    fit_file: Path,
    profiles: Path,
    groups: str,
    fill_typical: bool,
    ci: float,
    out: Path | None,
    delimiter: str | None,
    fmt: str,
) -> None:
    """Predict responses to hypothetical incidents (one profile per row of a CSV).

    Each profile gives the covariates the model uses and, for group terms, the
    mission and department; an optional 'profile' column names the rows.

    \b
    Examples:
      bayesresp whatif fit.nc profiles.csv
      bayesresp whatif fit.nc profiles.csv --groups new --out answers.csv
    """
    from bayesresp.api import load_fit

    fit = load_fit(fit_file)
    profiles = _profiles(profiles, delimiter)
    result = fit.what_if(profiles, groups=groups, fill="typical" if fill_typical else None, ci=ci)
    if out is not None:
        result.to_dataframe().to_csv(out)
    if fmt == "text":
        emit_table(
            result.summary(),
            "text",
            "Expected position (0 = conceal) and most probable response per profile:",
        )
        if result.filled:
            click.echo(
                "filled with typical values: "
                + ", ".join(f"{k} = {v}" for k, v in result.filled.items())
            )
        if out is not None:
            click.echo(f"wrote the probabilities of every level to {out}")
    else:
        emit_table(result.to_dataframe(), fmt)


def _profiles(path: Path, delimiter: str | None):
    """The profiles file, read here when a delimiter is given (else by the query)."""
    from bayesresp.data.tables import read_table

    return path if delimiter is None else read_table(path, delimiter)


def _parse_assignments(values: tuple[str, ...]) -> dict[str, object]:
    out: dict[str, object] = {}
    for item in values:
        if "=" not in item:
            raise click.BadParameter(f"'{item}' is not COLUMN=VALUE", param_hint="--set")
        key, value = item.split("=", 1)
        try:
            out[key.strip()] = (
                float(value) if value.strip().replace(".", "", 1).isdigit() else value.strip()
            )
        except ValueError:
            out[key.strip()] = value.strip()
    return out


@cli.command("contrast", epilog=EXIT_STATUS_HELP)
@click.argument("fit_file", type=click.Path(path_type=Path))
@click.argument("profiles", type=click.Path(path_type=Path))
@click.option(
    "--set",
    "assignments",
    multiple=True,
    required=True,
    help="A change, COLUMN=VALUE; repeat for several.",
)
@click.option(
    "--profile",
    "label",
    default=None,
    help="Which row of PROFILES is the base (its 'profile' label); the first by default.",
)
@_groups_option
@_fill_option
@_ci_option
@delimiter_option
@format_option
def contrast_cmd(
    fit_file: Path,
    profiles: Path,
    assignments: tuple[str, ...],
    label: str | None,
    groups: str,
    fill_typical: bool,
    ci: float,
    delimiter: str | None,
    fmt: str,
) -> None:
    """How the response to a profile shifts when some of its values change.

    \b
    Examples:
      bayesresp contrast fit.nc profiles.csv --set duty_location=field_office
      bayesresp contrast fit.nc profiles.csv --profile "HoM" --set background=military_security
    """
    from bayesresp.api import load_fit
    from bayesresp.queries.whatif import PROFILE_LABEL, read_profiles

    fit = load_fit(fit_file)
    frame = read_profiles(_profiles(profiles, delimiter))
    if label is not None:
        if label not in set(frame[PROFILE_LABEL]):
            raise click.BadParameter(
                f"no profile '{label}' in {profiles}; profiles: " + ", ".join(frame[PROFILE_LABEL]),
                param_hint="--profile",
            )
        frame = frame.loc[frame[PROFILE_LABEL] == label]
    base = frame.iloc[[0]]
    result = fit.contrast(
        base,
        _parse_assignments(assignments),
        groups=groups,
        fill="typical" if fill_typical else None,
        ci=ci,
    )
    if fmt == "text":
        click.echo(str(result))
    else:
        emit_table(result.to_dataframe(), fmt)


@cli.command("scenario", epilog=EXIT_STATUS_HELP)
@click.argument("fit_file", type=click.Path(path_type=Path))
@click.argument("data", type=click.Path(path_type=Path))
@click.argument("rules", type=click.Path(path_type=Path))
@click.option("--by", default="mission", show_default=True, help="Column to break down by.")
@_ci_option
@delimiter_option
@format_option
def scenario_cmd(
    fit_file: Path, data: Path, rules: Path, by: str, ci: float, delimiter: str | None, fmt: str
) -> None:
    """Predicted mix of responses before and after the rules of a TOML file.

    \b
    Example:
      bayesresp scenario fit.nc incidents.csv rotate_every_3_years.toml
    \b
    rotate_every_3_years.toml:
      [[rule]]
      column = "years_at_station"
      max = 3
    """
    from bayesresp.api import load_fit

    fit = load_fit(fit_file)
    result = fit.scenario(
        rules, data=fit.data if str(data) == "-" else _read(data, fit, delimiter), by=by, ci=ci
    )
    if fmt == "text":
        click.echo(str(result))
    else:
        emit_table(result.to_dataframe(), fmt)


def _read(path: Path, fit, delimiter: str | None):
    from bayesresp.data.validation import validate

    return validate(path, fit.codebook, delimiter)


@cli.command("effects", epilog=EXIT_STATUS_HELP)
@click.argument("fit_file", type=click.Path(path_type=Path))
@click.option(
    "--draws",
    type=click.IntRange(min=10),
    default=1000,
    show_default=True,
    help="Posterior draws used.",
)
@_ci_option
@format_option
def effects_cmd(fit_file: Path, draws: int, ci: float, fmt: str) -> None:
    """Rank the covariates by their population-averaged effect on the expected position.

    \b
    Example:
      bayesresp effects fit.nc --format csv
    """
    from bayesresp.api import load_fit

    fit = load_fit(fit_file)
    emit_table(
        fit.marginal_effects(draws=draws, ci=ci).set_index(["variable", "contrast"]),
        fmt,
        "Marginal effects on the expected position (0 = conceal), ranked:",
    )


@cli.command("imputed", epilog=EXIT_STATUS_HELP)
@click.argument("fit_file", type=click.Path(path_type=Path))
@_ci_option
@click.option(
    "--numbers",
    is_flag=True,
    help="The numbers' missing cells (latent values: mean, sd, interval) in place of the "
    "levels' (the default, unless the fit's missing covariates are all numbers).",
)
@format_option
def imputed_cmd(fit_file: Path, ci: float, numbers: bool, fmt: str) -> None:
    """The posterior of each missing covariate cell of a fit made with --missing model:
    per row, covariate and level, the probability of that level given the row's outcome,
    other covariates and mission; with --numbers (or when every missing covariate is a
    number), each number's latent value: its posterior mean, sd and interval.

    \b
    Example:
      bayesresp imputed fit.nc --format csv > imputed.csv
      bayesresp imputed fit.nc --numbers
    """
    from bayesresp.api import load_fit

    fit = load_fit(fit_file)
    if numbers or (fit.info.latent and not fit.info.imputed):
        emit_table(
            fit.imputed_values(ci=ci),
            fmt,
            "Missing numbers: the posterior of each latent value, in the number's units",
        )
        return
    emit_table(
        fit.imputed(ci=ci),
        fmt,
        "Missing covariate cells: the posterior probability of each level",
    )
