"""What the commands share: the common options and how tables and fits are printed."""

from __future__ import annotations

from pathlib import Path

import click
import pandas as pd

from bayesresp.data.tables import as_delimiter
from bayesresp.errors import DataFileError


class _Delimiter(click.ParamType):
    """A CSV delimiter: one character, or comma / semicolon / tab / pipe."""

    name = "delimiter"

    def convert(self, value, param, ctx):
        try:
            return as_delimiter(value)
        except DataFileError as exc:
            self.fail(str(exc), param, ctx)


delimiter_option = click.option(
    "--delimiter",
    "--sep",
    "delimiter",
    type=_Delimiter(),
    default=None,
    metavar="CHAR",
    help="The character between the cells of a CSV data file: comma, semicolon, tab, pipe "
    "or the character itself. By default the codebook's dialect says, else a comma (a tab "
    "for .tsv). A file that looks separated by another is refused, never read unasked.",
)

#: The largest seed every command accepts: what NumPy's legacy seeding takes.
SEED_MAX = 2**32 - 1


def seed_option(default: int | None, help: str = "Random seed."):
    """The --seed option of every command that draws: a whole number from 0 to 2**32 - 1."""
    return click.option(
        "--seed",
        type=click.IntRange(0, SEED_MAX),
        default=default,
        show_default=default is not None,
        help=help,  # click adds the range, [0<=x<=4294967295]
    )


def boot_option(help: str = "Bootstrap resamples for the interval."):
    """The --boot option: bootstrap resamples, 0 or more (1,000 default)."""
    return click.option(
        "--boot", type=click.IntRange(min=0), default=1000, show_default=True, help=help
    )


def ci_option(help: str = "Probability of the central intervals."):
    """The --ci option: the probability of central intervals, 0.5 to 0.999 (0.9 default)."""
    return click.option(
        "--ci", type=click.FloatRange(0.5, 0.999), default=0.9, show_default=True, help=help
    )


codebook_option = click.option(
    "--codebook",
    "codebook",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Codebook (Table Schema JSON); the default codebook when omitted.",
)
format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "csv"]),
    default="text",
    show_default=True,
    help="Output format.",
)


def emit_table(frame: pd.DataFrame, fmt: str, title: str | None = None) -> None:
    """Print a table as text, JSON (records) or CSV."""
    if fmt == "json":
        click.echo(frame.reset_index().to_json(orient="records", indent=2))
    elif fmt == "csv":
        click.echo(frame.to_csv(), nl=False)
    else:
        if title:
            click.echo(title)
        with pd.option_context(
            "display.width",
            200,
            "display.max_rows",
            500,
            "display.max_columns",
            20,
            "display.max_colwidth",
            60,
        ):
            click.echo(frame.to_string(float_format=lambda x: f"{x:.3f}"))


def print_fit_report(fit, ci: float = 0.9) -> None:
    """The parameter summary, the variance decomposition (where the link's residual has a
    variance) and the convergence line of a fit."""
    click.echo(f"Model: {fit.spec.formula}")
    click.echo(
        f"Family: {fit.spec.response.describe()}. A positive coefficient moves responses "
        "towards confrontation."
    )
    for term, why in fit.meta.get("dropped", {}).items():
        click.echo(f"Not estimable from these data: {term}: {why}")
    if fit.missing_note:
        click.echo(fit.missing_note)
    emit_table(fit.summary(ci=ci).drop(columns=["scale"]), "text", "\nParameters:")
    from bayesresp.queries.estimates import no_decomposition

    if no_decomposition(fit) is None:
        emit_table(
            fit.variance_decomposition(ci=ci),
            "text",
            "\nVariance decomposition (latent scale; share of the total):",
        )
    click.echo("\nConvergence: " + fit.convergence_line())
