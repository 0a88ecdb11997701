"""The ``lantern`` command: thin wiring over the packages' Python APIs."""

import typer

app = typer.Typer(
    help="Lantern: explained, audited, advisory prompts for a safeguarding partnership.",
    no_args_is_help=True,
    add_completion=False,
)

from lantern.commands import contract as _contract  # noqa: E402

app.command("validate")(_contract.validate)
app.command("contract")(_contract.contract)
