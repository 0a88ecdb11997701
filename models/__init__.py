"""The model registry's floor: what every run logs and where (see ``docs/architecture.md``)."""
