"""The command-line verbs, one module per area; ``lantern.cli`` registers them."""

from rich.console import Console

PIPE_WIDTH = 200
"""Console width when output is not a terminal, so that piped output is not wrapped early."""


def make_console() -> Console:
    """A Rich console: the terminal's width, or a wide one when output is piped."""
    console = Console()
    return console if console.is_terminal else Console(width=PIPE_WIDTH)
