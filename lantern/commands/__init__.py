"""The command-line verbs, one module per area; ``lantern.cli`` registers them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console

if TYPE_CHECKING:
    from models.tracking import TrackingSettings

PIPE_WIDTH = 200
"""Console width when output is not a terminal, so that piped output is not wrapped early."""


def make_console() -> Console:
    """A Rich console: the terminal's width, or a wide one when output is piped."""
    console = Console()
    return console if console.is_terminal else Console(width=PIPE_WIDTH)


def clean_leftovers(tracking: TrackingSettings, console: Console) -> None:
    """Clean what an interrupted run left in the store, and say what was cleaned."""
    from models.cleanup import clean_leftovers as clean

    for line in clean(tracking).lines():
        console.print(f"[yellow]{line}[/]")
