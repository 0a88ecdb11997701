"""What an interrupted command leaves in the store, found and cleaned: runs left RUNNING by a
process that has ended, and versions that never finished registering.

``lantern train``, ``lantern promote`` and ``lantern serve`` call :func:`clean_leftovers` before
they start, and say what they cleaned.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from mlflow import MlflowClient
from mlflow.entities import RunStatus
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST, ErrorCode

from models.tracking import (
    OWNER_HOST_TAG,
    OWNER_PID_TAG,
    TrackingSettings,
    _discard_version,
    _fail_run,
    _owner_state,
    _sigint_ignored,
)

_log = logging.getLogger(__name__)


@dataclass
class Cleaned:
    """What :func:`clean_leftovers` found and did.

    Attributes
    ----------
    failed_runs : list of str
        Runs left RUNNING by a process that has ended, now marked FAILED.
    deleted_versions : list of str
        Versions (``name vN``) whose registration never completed, now deleted.
    """

    failed_runs: list[str] = field(default_factory=list)
    deleted_versions: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """One sentence per thing cleaned, for the command line (empty if nothing was)."""
        return [
            *(
                f"cleaned: run {r} was left RUNNING by a process that ended; marked FAILED"
                for r in self.failed_runs
            ),
            *(f"cleaned: {v} never finished registering; deleted" for v in self.deleted_versions),
        ]


def clean_leftovers(settings: TrackingSettings) -> Cleaned:
    """End the runs whose process died mid-run, and delete never-completed versions.

    A Ctrl-C at an unlucky instant, a SIGKILL or a power cut can leave a run RUNNING, or a
    registered version whose run never finished. A RUNNING run is a leftover only when the
    process recorded as its owner (on this host) has ended; runs of live processes, and of
    other hosts, are left alone. Ending a leftover run FAILED deletes the versions it
    registered (putting ``challenger`` back where it was), as a failure in-process does; any
    other version whose run is not FINISHED, and not running in a live process, is deleted.

    Parameters
    ----------
    settings : TrackingSettings
        The store.

    Returns
    -------
    Cleaned
        The runs ended and the versions deleted.
    """
    client = settings.client()
    cleaned = Cleaned()
    running = RunStatus.to_string(RunStatus.RUNNING)
    experiments = [e.experiment_id for e in client.search_experiments()]
    runs = (
        client.search_runs(
            experiments, filter_string=f"attributes.status = '{running}'", max_results=50_000
        )
        if experiments
        else []
    )
    for run in runs:
        if _owner_state(run.data.tags) != "dead":
            continue
        owner = f"process {run.data.tags[OWNER_PID_TAG]} on {run.data.tags[OWNER_HOST_TAG]}"
        before = _version_names(client, run.info.run_id)
        with _sigint_ignored():
            _fail_run(client, run.info.run_id, f"Interrupted: {owner} ended mid-run")
        cleaned.failed_runs.append(run.info.run_id)
        cleaned.deleted_versions += sorted(before - _version_names(client, run.info.run_id))
    for version in client.search_model_versions():
        if not _registration_abandoned(client, version.run_id):
            continue
        with _sigint_ignored():
            _discard_version(client, client.get_model_version(version.name, str(version.version)))
        cleaned.deleted_versions.append(f"{version.name} v{version.version}")
    for line in cleaned.lines():
        _log.warning(line)
    return cleaned


def _registration_abandoned(client: MlflowClient, run_id: str | None) -> bool:
    """Whether a version from this run can never complete: its run is gone, or ended other
    than FINISHED, or is RUNNING in a process that has ended."""
    if not run_id:
        return True
    try:
        run = client.get_run(run_id)
    except MlflowException as exc:
        if exc.error_code == ErrorCode.Name(RESOURCE_DOES_NOT_EXIST):
            return True
        raise
    if run.info.status == RunStatus.to_string(RunStatus.FINISHED):
        return False
    if run.info.status == RunStatus.to_string(RunStatus.RUNNING):
        return _owner_state(run.data.tags) == "dead"
    return True


def _version_names(client: MlflowClient, run_id: str) -> set[str]:
    """``name vN`` of every version registered from the run."""
    return {f"{v.name} v{v.version}" for v in client.search_model_versions(f"run_id = '{run_id}'")}
