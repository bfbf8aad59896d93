"""The command group and its error handling; commands live in sibling modules."""

from __future__ import annotations

import click

from bayesresp.errors import BayesrespError

EXIT_STATUS_HELP = (
    "Exit status: 0 success; 1 invalid data or a failed check; 2 unusable input "
    "(unreadable file, bad codebook) or wrong usage; 130 interrupted (Ctrl-C)."
)


class _Group(click.Group):
    """Turns every user error into one line on stderr and the documented exit status."""

    def make_context(self, info_name, args, parent=None, **extra):
        try:  # the group's own options: 'bayesresp --bogus'
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as exc:
            _usage_line(exc)
            raise click.exceptions.Exit(2) from None

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except BayesrespError as exc:
            click.echo(f"error: {one_line(exc)}", err=True)
            ctx.exit(exc.exit_status)
        except click.UsageError as exc:  # wrong usage: one line, not click's three
            _usage_line(exc)
            ctx.exit(2)
        except KeyboardInterrupt:  # Ctrl-C: one line and 130, the shell's status for SIGINT
            interrupted("stopped before it finished")
        except OSError as exc:  # a file that cannot be written (a missing folder, a full disk)
            where = f": {exc.filename}" if exc.filename else ""
            click.echo(f"error: {exc.strerror or exc}{where}", err=True)
            ctx.exit(2)


INTERRUPTED_STATUS = 130  # 128 + SIGINT, what shells report for a command Ctrl-C stopped


def interrupted(what: str) -> None:
    """Say in one line that an interrupt stopped the command, and exit with status 130."""
    import sys

    if sys.stderr.isatty():  # off a progress bar's line
        click.echo("", err=True)
    click.echo(f"interrupted: {what}", err=True)
    raise click.exceptions.Exit(INTERRUPTED_STATUS)


def _usage_line(exc: click.UsageError) -> None:
    where = exc.ctx.command_path if exc.ctx is not None else "bayesresp"
    click.echo(f"error: {exc.format_message()} (see '{where} --help')", err=True)


def one_line(exc: BayesrespError) -> str:
    """An error as one line, as the command line says it (:attr:`cli_message`: options
    spelt as flags). Invalid data give their count and the first problem; for a data
    file, the ``validate`` command lists them all (profiles and the data a scenario's
    rules made are not files it can check, and are not sent there)."""
    from bayesresp.errors import DataValidationError

    if not isinstance(exc, DataValidationError):
        return " ".join(exc.cli_message.split("\n"))
    errors = [p for p in exc.problems if p.severity == "error"] or exc.problems
    if not errors:
        return (str(exc).splitlines() or ["invalid data"])[0]
    where = f" in {exc.source}" if exc.source else ""
    more = ""
    if len(errors) > 1:
        lister = ": 'bayesresp validate' lists them all" if exc.data_file else ""
        more = f" (and {len(errors) - 1} more{lister})"
    return f"{len(errors)} problem{'s' * (len(errors) != 1)}{where}; first: {errors[0]}{more}"


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


def deprecated_alias(command: click.Command, old: str) -> None:
    """Register ``old`` as a hidden name of ``command`` that says, on stderr, what the
    command is called now, then runs it."""

    def callback(**kwargs):
        click.echo(
            f"note: 'bayesresp {old}' is now 'bayesresp {command.name}'; the old name "
            "will be removed in bayesresp 0.3",
            err=True,
        )
        return command.callback(**kwargs)

    cli.add_command(
        click.Command(
            old,
            callback=callback,
            params=command.params,
            help=f"Deprecated name of 'bayesresp {command.name}'.\n\n{command.help or ''}",
            epilog=command.epilog,
            hidden=True,
        )
    )
