"""The ``lantern`` command: thin wiring over the packages' Python APIs."""

import logging
import os

import typer

# Quiet MLflow's progress bars and telemetry before it is imported by any verb.
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
# MLflow sets its loggers from this when imported (store migrations are logged at INFO).
os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("BENTOML_DO_NOT_TRACK", "true")

app = typer.Typer(
    help="Lantern: explained, audited, advisory prompts for a safeguarding partnership.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _quiet_libraries() -> None:
    # MLflow warns that a Python model is pickled; the pickled class is Lantern's own
    # (models.scoring.LanternPyfunc), so the warning does not help a user.
    logging.getLogger("mlflow.pyfunc").setLevel(logging.ERROR)


from lantern.commands import contract as _contract  # noqa: E402

app.command("validate")(_contract.validate)
app.command("contract")(_contract.contract)

from lantern.commands import linkage as _linkage  # noqa: E402

app.command("ingest")(_linkage.ingest)
app.command("link")(_linkage.link)

from lantern.commands import partnership as _partnership  # noqa: E402

app.command("synth")(_partnership.synth)
app.command("features")(_partnership.features)
app.command("registry")(_partnership.list_features)

from lantern.commands import training as _training  # noqa: E402

app.command("train")(_training.train)

from lantern.commands import models as _models  # noqa: E402

app.command("promote")(_models.promote)
app.command("retrain")(_models.retrain)

from lantern.commands import fairness as _fairness  # noqa: E402

app.command("audit")(_fairness.audit)
app.command("label-bias")(_fairness.label_bias)

from lantern.commands import governance as _governance  # noqa: E402

app.command("record")(_governance.record)
app.command("overview")(_governance.overview)

from lantern.commands import access as _access  # noqa: E402

app.add_typer(_access.keys_app, name="keys")
app.add_typer(_access.audit_log_app, name="audit-log")
app.command("subject-access")(_access.subject_access)
app.command("retention")(_access.retention)

from lantern.commands import serve as _serve  # noqa: E402

app.command("serve")(_serve.serve)
