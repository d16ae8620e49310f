"""`python -m rubricate` runs the CLI."""

from .cli import run

run()
