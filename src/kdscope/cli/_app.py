"""The typer application object shared by the command modules (with ``kdscope --version``)."""

from typing import Optional

import typer

app = typer.Typer(
    name="kdscope",
    help="Statistical physics of knowledge distillation: theory, simulations, experiments, figures.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        from kdscope import __version__

        typer.echo(f"kdscope {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Optional[bool] = typer.Option(None, "--version", callback=_print_version, is_eager=True,
                                           help="Print the kdscope version and exit."),
) -> None:
    """Statistical physics of knowledge distillation: theory, simulations, experiments, figures."""
