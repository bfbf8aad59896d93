"""The command group and its error handling; commands live in sibling modules."""

from __future__ import annotations

import click

from bayesresp.errors import BayesrespError

EXIT_STATUS_HELP = (
    "Exit status: 0 success; 1 invalid data or a failed check; 2 unusable input "
    "(unreadable file, bad codebook) or wrong usage."
)


class _Group(click.Group):
    """Turns every user error into one line on stderr and the documented exit status."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except BayesrespError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(exc.exit_status)


@click.group(name="bayesresp", cls=_Group, epilog=EXIT_STATUS_HELP)
@click.version_option(package_name="bayesresp")
def cli() -> None:
    """Bayesian models of responses to norm violations on the
    conciliation-confrontation spectrum.

    \b
    Examples:
      bayesresp validate mydata.csv
      bayesresp simulate --missions 12 --rows 2000 --seed 1 --out sim.csv
      bayesresp demo
    """


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``bayesresp`` script."""
    try:
        cli.main(args=argv, prog_name="bayesresp", standalone_mode=True)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0
