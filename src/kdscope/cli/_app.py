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


def _one_line_store_warnings() -> None:
    """Print repairs of the result store (a corrupt point moved aside) as one 'warning: ...' line, no source line."""
    import warnings

    from kdscope.store import StoreWarning

    default = warnings.formatwarning
    if getattr(default, "_kdscope", False):
        return

    def formatwarning(message, category, filename, lineno, line=None):
        if isinstance(category, type) and issubclass(category, StoreWarning):
            return f"warning: {message}\n"
        return default(message, category, filename, lineno, line)

    formatwarning._kdscope = True
    warnings.formatwarning = formatwarning


@app.callback()
def _main(
    version: Optional[bool] = typer.Option(None, "--version", callback=_print_version, is_eager=True,
                                           help="Print the kdscope version and exit."),
) -> None:
    """Statistical physics of knowledge distillation: theory, simulations, experiments, figures."""
    _one_line_store_warnings()
