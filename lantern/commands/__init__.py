"""The ``lantern`` command's subcommands, one module per area."""
