"""MLflow tracking and registration that never leaves anything half-written.

A training run lives inside :func:`failure_safe_run` and its very last step is
:func:`register_challenger`. The run's status is the commit record of the registration:

* registration creates the version, waits until it is READY, tags it and moves the alias
  ``challenger`` to it last; any failure on the way (Ctrl-C included) deletes the version;
* a run that fails at any point, even after registering, ends FAILED and the versions it
  registered are deleted (the previous ``challenger`` alias is put back);
* so a version is complete only if its run FINISHED. A hard kill (SIGKILL, power cut) can
  leave a version without the ``challenger`` alias whose run is still RUNNING; it is never
  aliased and :func:`is_complete` says it must not be promoted;
* every run records which process owns it (host, process id and start time), so
  :func:`clean_leftovers`, called by ``lantern train``, ``promote`` and ``serve`` before
  they start, can tell a run whose process died from one still going: it ends the dead
  ones FAILED and deletes every version whose registration never completed.

:func:`checkpoint` is a test hook: the environment variable ``LANTERN_TEST_INTERRUPT_AT``
names a step at which the process signals itself (``LANTERN_TEST_INTERRUPT_SIGNAL``, SIGINT
by default, or SIGKILL), so tests interrupt training at a known point instead of after a
delay. Nothing else reads those variables.

Nothing happens on import: :meth:`TrackingSettings.apply` points MLflow at the store.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import signal
import socket
import tempfile
import threading
import time
import traceback
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import mlflow
import psutil
import pydantic
from mlflow import ActiveRun, MlflowClient
from mlflow.entities import RunStatus
from mlflow.entities.model_registry import ModelVersion
from mlflow.entities.model_registry.model_version_status import ModelVersionStatus
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import RESOURCE_ALREADY_EXISTS, RESOURCE_DOES_NOT_EXIST, ErrorCode

__all__ = [
    "CHALLENGER",
    "CHAMPION",
    "TrackingSettings",
    "checkpoint",
    "experiment_id",
    "failure_safe_run",
    "get_alias",
    "is_complete",
    "load_run_artifact_json",
    "register_challenger",
]

_log = logging.getLogger(__name__)

CHALLENGER = "challenger"
"""Alias of the newest completely registered version of a model."""
CHAMPION = "champion"
"""Alias of the version that serves; only :func:`training.promotion.promote` moves it."""

FAILURE_TAG = "lantern.failure"
PREVIOUS_CHALLENGER_TAG = "lantern.previous_challenger"
OWNER_HOST_TAG = "lantern.owner.host"
OWNER_PID_TAG = "lantern.owner.pid"
OWNER_STARTED_TAG = "lantern.owner.process_started"
"""Which process owns a run: host name, process id, and the process's start time (seconds
since the epoch, as psutil reports it), so that a reused process id is not taken for it."""
ATTEMPT_TAG = "lantern.attempt"
"""A random id per :func:`failure_safe_run`, to find its run if starting it was interrupted."""

INTERRUPT_VARIABLE = "LANTERN_TEST_INTERRUPT_AT"
"""Test hook: the :data:`STEPS` entry at which :func:`checkpoint` signals this process."""
INTERRUPT_SIGNAL_VARIABLE = "LANTERN_TEST_INTERRUPT_SIGNAL"
"""Test hook: ``SIGINT`` (default, as a Ctrl-C) or ``SIGKILL`` (as a power cut)."""
STEPS = ("run_started", "before_registration", "during_registration")
"""Named points of a training run: the run row exists but the run has not yet been handed to
the caller; the model is logged but no version exists; the version exists but is not yet
tagged or aliased."""
_READY_TIMEOUT_S = 300
_SQLITE = "sqlite:///"


def _sqlite_file(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI (absolute), or None for other stores."""
    if not uri.startswith(_SQLITE):
        return None
    return Path(uri.removeprefix(_SQLITE)).absolute()


def _default_uri() -> str:
    """``MLFLOW_TRACKING_URI`` if set, else ``mlruns/mlflow.db`` under the working directory."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"{_SQLITE}{Path.cwd() / 'mlruns/mlflow.db'}"


def _default_artifact_root(data: dict) -> Path:
    """``artifacts`` beside the sqlite database, else ``mlruns/artifacts`` here."""
    db = _sqlite_file(data.get("uri", ""))
    return (db.parent if db else Path.cwd() / "mlruns") / "artifacts"


class TrackingSettings(pydantic.BaseModel):
    """Where Lantern's MLflow store lives.

    Attributes
    ----------
    uri : str
        Tracking and registry URI. Defaults to ``MLFLOW_TRACKING_URI`` if set, else
        ``sqlite:///<cwd>/mlruns/mlflow.db``; a relative sqlite path is made absolute.
    artifact_root : Path
        Directory holding experiments' artifacts; defaults to ``artifacts`` beside the
        sqlite database (``<cwd>/mlruns/artifacts`` for other stores).
    """

    model_config = pydantic.ConfigDict(frozen=True, validate_default=True)

    uri: str = pydantic.Field(default_factory=_default_uri)
    artifact_root: Path = pydantic.Field(default_factory=_default_artifact_root)

    @pydantic.field_validator("uri")
    @classmethod
    def _absolute_sqlite(cls, uri: str) -> str:
        db = _sqlite_file(uri)
        return f"{_SQLITE}{db}" if db else uri

    @pydantic.field_validator("artifact_root")
    @classmethod
    def _absolute_root(cls, root: Path) -> Path:
        return root.absolute()

    def apply(self) -> None:
        """Point MLflow's tracking and registry at this store (creating its directory).

        MLflow also exports the URIs as ``MLFLOW_TRACKING_URI`` and ``MLFLOW_REGISTRY_URI``,
        so later :class:`TrackingSettings` defaults and subprocesses follow them.
        """
        if db := _sqlite_file(self.uri):
            db.parent.mkdir(parents=True, exist_ok=True)
        mlflow.set_tracking_uri(self.uri)
        mlflow.set_registry_uri(self.uri)

    def client(self) -> MlflowClient:
        """Apply these settings and return a client on the store.

        MLflow's sqlite registry resolves ``models:/<model_id>`` sources through the global
        tracking URI, so the client alone is not enough.
        """
        self.apply()
        return MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)


def experiment_id(name: str, settings: TrackingSettings) -> str:
    """Get or create the experiment ``lantern/<name>``.

    Parameters
    ----------
    name : str
        The model's name, e.g. ``"exclusion_neet"``.
    settings : TrackingSettings
        The store.

    Returns
    -------
    str
        The experiment id. A new experiment keeps its artifacts in
        ``<artifact_root>/<name>``.

    Raises
    ------
    ValueError
        If the experiment exists but was deleted.
    """
    client = settings.client()
    full_name = f"lantern/{name}"
    experiment = client.get_experiment_by_name(full_name)
    if experiment is None:
        location = (settings.artifact_root / name).as_uri()
        try:
            return client.create_experiment(full_name, artifact_location=location)
        except MlflowException as exc:  # created meanwhile by another process
            if exc.error_code != ErrorCode.Name(RESOURCE_ALREADY_EXISTS):
                raise
            experiment = client.get_experiment_by_name(full_name)
    if experiment.lifecycle_stage != "active":
        raise ValueError(f"experiment {full_name!r} was deleted; restore it or use another store")
    return experiment.experiment_id


def checkpoint(step: str) -> None:
    """Test hook: signal this process at ``step`` if ``LANTERN_TEST_INTERRUPT_AT`` names it.

    Parameters
    ----------
    step : str
        One of :data:`STEPS`.

    Raises
    ------
    ValueError
        If the variables name an unknown step or signal (a typo would otherwise make a test
        pass without interrupting anything).
    """
    wanted = os.environ.get(INTERRUPT_VARIABLE)
    if not wanted:
        return
    if wanted not in STEPS:
        raise ValueError(f"{INTERRUPT_VARIABLE}={wanted!r} is not a step; use one of {STEPS}")
    if wanted != step:
        return
    name = os.environ.get(INTERRUPT_SIGNAL_VARIABLE, "SIGINT")
    if name not in ("SIGINT", "SIGKILL"):
        raise ValueError(f"{INTERRUPT_SIGNAL_VARIABLE}={name!r}: use SIGINT or SIGKILL")
    signal.raise_signal(getattr(signal, name))


def _process_started(pid: int) -> float | None:
    """When process ``pid`` started (psutil's create time), or None if there is none."""
    try:
        return psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def _owner_tags(attempt: str) -> dict[str, str]:
    """The tags that say this process owns a run."""
    pid = os.getpid()
    return {
        OWNER_HOST_TAG: socket.gethostname(),
        OWNER_PID_TAG: str(pid),
        OWNER_STARTED_TAG: f"{_process_started(pid):.3f}",
        ATTEMPT_TAG: attempt,
    }


def _owner_state(tags: Mapping[str, str]) -> str:
    """``"alive"``, ``"dead"`` or ``"unknown"`` (no owner recorded, or another host)."""
    try:
        host = tags[OWNER_HOST_TAG]
        pid, started = int(tags[OWNER_PID_TAG]), float(tags[OWNER_STARTED_TAG])
    except (KeyError, ValueError):
        return "unknown"
    if host != socket.gethostname():
        return "unknown"
    now = _process_started(pid)
    return "alive" if now is not None and abs(now - started) < 0.05 else "dead"


@contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Ignore Ctrl-C for a short clean-up, so a second Ctrl-C cannot cut it short."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.SIG_DFL)


def _failure_text(exc: BaseException) -> str:
    """The error's class and message, short enough for a run tag."""
    return f"{type(exc).__name__}: {exc}"[:4000]


def _end_run(client: MlflowClient, run_id: str, status: str) -> None:
    """End the run: pop it from MLflow's active-run stack if it is there, else just mark it."""
    active = mlflow.active_run()
    if active is not None and active.info.run_id == run_id:
        mlflow.end_run(status)
    else:
        client.set_terminated(run_id, status)


def _fail_run(client: MlflowClient, run_id: str, failure: str) -> None:
    """Undo the run's registrations, tag the failure and end the run FAILED (best effort)."""
    steps = (
        lambda: _discard_run_versions(client, run_id),
        lambda: client.set_tag(run_id, FAILURE_TAG, failure[:4000]),
        lambda: _end_run(client, run_id, RunStatus.to_string(RunStatus.FAILED)),
    )
    for step in steps:
        try:
            step()
        except Exception:  # keep going: the original error is what the caller must see
            _log.exception("cleaning up failed run %s", run_id)


@contextmanager
def failure_safe_run(
    experiment: str,
    run_name: str,
    settings: TrackingSettings,
    tags: Mapping[str, str] | None = None,
) -> Iterator[ActiveRun]:
    """Run a block inside an MLflow run that ends FAILED on any error, Ctrl-C included.

    Parameters
    ----------
    experiment : str
        The model's name; the run goes in experiment ``lantern/<experiment>``.
    run_name : str
        The run's name, e.g. ``"2025Q3"``.
    settings : TrackingSettings
        The store.
    tags : mapping of str to str, optional
        Tags set on the run when it starts.

    Yields
    ------
    mlflow.ActiveRun
        The active run.

    Notes
    -----
    On an exception (any ``BaseException``) the versions the run registered are deleted,
    the tag ``lantern.failure`` records ``"<ErrorClass>: <message>"``, the run ends FAILED
    and the exception is re-raised. Otherwise the run ends FINISHED.
    """
    client = settings.client()
    attempt = uuid.uuid4().hex
    experiment_number = experiment_id(experiment, settings)
    try:
        run = mlflow.start_run(
            experiment_id=experiment_number,
            run_name=run_name,
            tags={**dict(tags or {}), **_owner_tags(attempt)},
        )
        checkpoint("run_started")
    except BaseException as exc:
        # Interrupted inside start_run: the run's row may exist without our having its id.
        with _sigint_ignored():
            _release_interrupted_calls(exc)
            for found in _runs_of_attempt(client, experiment_number, attempt):
                _fail_run(client, found, _failure_text(exc))
        raise
    run_id = run.info.run_id
    try:
        yield run
        _end_run(client, run_id, RunStatus.to_string(RunStatus.FINISHED))
    except BaseException as exc:
        with _sigint_ignored():
            _release_interrupted_calls(exc)
            _fail_run(client, run_id, _failure_text(exc))
        raise


def _runs_of_attempt(client: MlflowClient, experiment_number: str, attempt: str) -> list[str]:
    """Ids of the runs that one :func:`failure_safe_run` started (none or one)."""
    try:
        found = client.search_runs(
            [experiment_number], filter_string=f"tags.`{ATTEMPT_TAG}` = '{attempt}'"
        )
    except Exception:  # best effort: clean_leftovers finds it later
        _log.exception("looking for the interrupted run of attempt %s", attempt)
        return []
    return [r.info.run_id for r in found]


def _release_interrupted_calls(exc: BaseException) -> None:
    """After a Ctrl-C (or another non-``Exception``), free what the block's finished frames
    still hold.

    Such an interruption inside an MLflow store call can leave a sqlite statement open in
    those frames, holding a lock that the clean-up's writes would wait on until they time
    out, leaving the run RUNNING. Clearing the frames' locals (their lines stay in the
    traceback) and collecting garbage closes it. Ordinary errors keep their locals: MLflow
    rolls back its own session for those.
    """
    if not isinstance(exc, Exception):
        traceback.clear_frames(exc.__traceback__)
        gc.collect()


def is_complete(version: ModelVersion, settings: TrackingSettings) -> bool:
    """Whether a version's registration completed: the run that registered it FINISHED."""
    if not version.run_id:
        return False
    status = settings.client().get_run(version.run_id).info.status
    return status == RunStatus.to_string(RunStatus.FINISHED)


def _ensure_registered_model(client: MlflowClient, name: str) -> None:
    """Create the registered model, with a description, unless it exists."""
    description = (
        f"Lantern's {name} model. Quarterly training runs register versions; alias "
        f"'{CHALLENGER}' marks the newest complete one and '{CHAMPION}' the one that serves, "
        "moved only by `lantern promote` when the gates pass."
    )
    try:
        client.create_registered_model(name, description=description)
    except MlflowException as exc:
        if exc.error_code != ErrorCode.Name(RESOURCE_ALREADY_EXISTS):
            raise


def _check_run_is_live(client: MlflowClient, run_id: str) -> None:
    """Refuse to register outside a running run: registration is a run's last step."""
    status = client.get_run(run_id).info.status
    if status != RunStatus.to_string(RunStatus.RUNNING):
        raise ValueError(
            f"run {run_id} is {status}: register the challenger as the last step inside "
            "its failure_safe_run"
        )


def _create_version(client: MlflowClient, model_uri: str, name: str, run_id: str) -> ModelVersion:
    """Create the version without MLflow's wait, so a failed wait still returns the version."""
    from mlflow.store.artifact.utils.models import _parse_model_id_if_present

    return client.create_model_version(
        name,
        source=model_uri,
        run_id=run_id,
        model_id=_parse_model_id_if_present(model_uri),
        await_creation_for=0,
    )


def _await_ready(client: MlflowClient, version: ModelVersion, timeout_s: float) -> None:
    """Wait until the version is READY; raise if it fails or takes longer than ``timeout_s``."""
    pending = ModelVersionStatus.to_string(ModelVersionStatus.PENDING_REGISTRATION)
    deadline = time.monotonic() + timeout_s
    while version.status == pending and time.monotonic() < deadline:
        time.sleep(0.5)
        version = client.get_model_version(version.name, version.version)
    if version.status != ModelVersionStatus.to_string(ModelVersionStatus.READY):
        raise RuntimeError(
            f"version {version.version} of {version.name} is {version.status}, not READY: "
            f"{version.status_message or 'no message'}"
        )


def _set_version_tags(
    client: MlflowClient, name: str, version: str, tags: Mapping[str, str]
) -> None:
    """Set each tag on the version."""
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value)


def _alias(client: MlflowClient, name: str, alias: str) -> ModelVersion | None:
    """The version the alias points at, or None when the model or the alias does not exist."""
    try:
        version = client.get_registered_model(name).aliases.get(alias)
    except MlflowException as exc:
        if exc.error_code == ErrorCode.Name(RESOURCE_DOES_NOT_EXIST):
            return None
        raise
    return None if version is None else client.get_model_version(name, str(version))


def _discard_version(client: MlflowClient, version: ModelVersion) -> None:
    """Delete a version; if that left no challenger, point the alias back where it was."""
    name = version.name
    client.delete_model_version(name, str(version.version))
    previous = version.tags.get(PREVIOUS_CHALLENGER_TAG)
    if previous and _alias(client, name, CHALLENGER) is None:
        try:
            client.set_registered_model_alias(name, CHALLENGER, previous)
        except MlflowException:  # the previous challenger was deleted meanwhile
            _log.warning("could not restore %s@%s -> %s", name, CHALLENGER, previous)
    _log.warning("deleted incomplete version %s of %s", version.version, name)


def _discard_run_versions(client: MlflowClient, run_id: str) -> None:
    """Delete every version registered from the run."""
    for version in client.search_model_versions(f"run_id = '{run_id}'"):
        _discard_version(client, client.get_model_version(version.name, str(version.version)))


def register_challenger(
    model_uri: str,
    name: str,
    *,
    run_id: str,
    tags: Mapping[str, str],
    settings: TrackingSettings,
) -> ModelVersion:
    """Register a logged model as the new ``challenger`` of ``name``, all or nothing.

    Call it as the last step inside :func:`failure_safe_run`: the run ending FINISHED is
    what makes the registration complete.

    Parameters
    ----------
    model_uri : str
        The logged model, e.g. ``ModelInfo.model_uri`` (``models:/<model_id>``).
    name : str
        The registered model's name; created with a description if it does not exist.
    run_id : str
        The running run that trained the model.
    tags : mapping of str to str
        Tags set on the new version before it is aliased.
    settings : TrackingSettings
        The store.

    Returns
    -------
    ModelVersion
        The new version, READY, tagged and aliased ``challenger``.

    Raises
    ------
    ValueError
        If the run is not running.
    TypeError
        If a tag key or value is not a string.

    Notes
    -----
    Steps: create the version, wait until READY, set the tags (plus
    ``lantern.previous_challenger``), then move ``challenger`` to it last. If anything fails
    after the version exists, Ctrl-C included, the version is deleted and the error re-raised.
    """
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
        raise TypeError("version tags must map str to str")
    client = settings.client()
    _check_run_is_live(client, run_id)
    _ensure_registered_model(client, name)
    previous = _alias(client, name, CHALLENGER)
    all_tags = dict(tags)
    if previous is not None:
        all_tags[PREVIOUS_CHALLENGER_TAG] = str(previous.version)
    checkpoint("before_registration")
    version = _create_version(client, model_uri, name, run_id)
    number = str(version.version)
    try:
        checkpoint("during_registration")
        _await_ready(client, version, _READY_TIMEOUT_S)
        _set_version_tags(client, name, number, all_tags)
        client.set_registered_model_alias(name, CHALLENGER, number)
    except BaseException:
        with _sigint_ignored():
            try:
                _discard_version(client, client.get_model_version(name, number))
            except Exception:
                _log.exception("could not delete incomplete version %s of %s", number, name)
        raise
    return client.get_model_version(name, number)


def get_alias(name: str, alias: str, settings: TrackingSettings) -> ModelVersion | None:
    """The version ``name@alias``, or None when the model or the alias does not exist.

    Parameters
    ----------
    name : str
        The registered model's name.
    alias : str
        The alias, e.g. ``"champion"``.
    settings : TrackingSettings
        The store.

    Returns
    -------
    ModelVersion or None
        The aliased version, with its tags and aliases.
    """
    return _alias(settings.client(), name, alias)


def load_run_artifact_json(run_id: str, path: str, settings: TrackingSettings) -> dict | None:
    """Read a JSON object logged as an artifact of a run.

    Parameters
    ----------
    run_id : str
        The run.
    path : str
        The artifact's path in the run, e.g. ``"fairness/result.json"``.
    settings : TrackingSettings
        The store.

    Returns
    -------
    dict or None
        The parsed object, or None when the run has no such artifact.

    Raises
    ------
    ValueError
        If the artifact holds JSON that is not an object.
    """
    client = settings.client()
    with tempfile.TemporaryDirectory() as tmp:
        try:
            local = client.download_artifacts(run_id, path, dst_path=tmp)
        except MlflowException as exc:
            if exc.error_code == ErrorCode.Name(RESOURCE_DOES_NOT_EXIST):
                return None
            raise
        value = json.loads(Path(local).read_text(encoding="utf-8"))
    if not isinstance(value, dict):
        raise ValueError(f"artifact {path} of run {run_id} is not a JSON object")
    return value
