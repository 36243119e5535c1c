"""``python -m kdscope.cli ...``: the same as the ``kdscope`` command."""

from kdscope.cli import main

main()
