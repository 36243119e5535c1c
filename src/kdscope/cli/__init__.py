"""Command-line interface: ``kdscope theory | simulate | curve | sweep | figures | empirical``.

The CLI holds no physics: it parses options, builds a Setting, calls the
library, stores and draws.  Each command family lives in its own module, which
registers itself on the shared typer app when imported here.
"""

from __future__ import annotations

import importlib
import sys

from kdscope.cli._app import app

_COMMAND_MODULES = (
    "theory_cmd", "simulate_cmd", "curve_cmd", "figures_cmd", "sweep_cmd", "phase_cmd",
    "empirical_cmd", "empirical_analyze_cmd", "bridge_cmd", "multiclass_cmd",
)

for _name in _COMMAND_MODULES:
    importlib.import_module(f"kdscope.cli.{_name}")


def main() -> None:
    """Console entry point."""
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
