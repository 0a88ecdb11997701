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

from lantern.commands import partnership as _partnership  # noqa: E402

app.command("synth")(_partnership.synth)
app.command("features")(_partnership.features)
app.command("registry")(_partnership.list_features)
