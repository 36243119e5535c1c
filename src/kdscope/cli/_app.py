"""The typer application object shared by the command modules."""

import typer

app = typer.Typer(
    name="kdscope",
    help="Statistical physics of knowledge distillation: theory, simulations, experiments, figures.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
