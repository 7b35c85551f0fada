"""The ``roamsim`` command-line tool: a thin click app over :mod:`roamsim.api`."""

from roamsim.cli.main import cli, main

__all__ = ["cli", "main"]
