"""Tracking and registration against a real MLflow sqlite store: nothing is half-written."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from sqlalchemy import event
from sqlalchemy.engine import Engine

from models import tracking
from models.cleanup import clean_leftovers
from models.tracking import (
    TrackingSettings,
    experiment_id,
    failure_safe_run,
    get_alias,
    is_complete,
    load_run_artifact_json,
    register_challenger,
)
from training.promotion import PromotionPolicy, promote

MODEL = "toy"
PIP = ["mlflow==3.17.2"]


class Tiny(mlflow.pyfunc.PythonModel):
    """Answers 0.5 for every row."""

    def predict(self, context, model_input: list[float], params=None) -> list[float]:
        return [0.5] * len(model_input)


# The stores (``empty_store``, ``settings``) are in conftest.py.


def client(settings: TrackingSettings) -> MlflowClient:
    return MlflowClient(tracking_uri=settings.uri, registry_uri=settings.uri)


def log_tiny() -> str:
    """Log the tiny model in the active run; its ``models:/<model_id>`` URI."""
    return mlflow.pyfunc.log_model(
        name="model", python_model=Tiny(), pip_requirements=PIP
    ).model_uri


def train(settings: TrackingSettings, tags: dict[str, str] | None = None):
    """A complete training run that registers a challenger; its version."""
    with failure_safe_run(MODEL, "quarter", settings) as run:
        uri = log_tiny()
        return register_challenger(
            uri, MODEL, run_id=run.info.run_id, tags=tags or {}, settings=settings
        )


def live_versions(settings: TrackingSettings) -> list[str]:
    return [str(v.version) for v in client(settings).search_model_versions(f"name = '{MODEL}'")]


def test_settings_default_to_mlruns_under_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    before = mlflow.get_tracking_uri()
    settings = TrackingSettings()
    assert settings.uri == f"sqlite:///{tmp_path}/mlruns/mlflow.db"
    assert settings.artifact_root == tmp_path / "mlruns" / "artifacts"
    assert mlflow.get_tracking_uri() == before  # constructing settings changes nothing
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///elsewhere/x.db")
    other = TrackingSettings()
    assert other.uri == f"sqlite:///{tmp_path}/elsewhere/x.db"
    assert other.artifact_root == tmp_path / "elsewhere" / "artifacts"


def test_experiment_is_created_once_with_artifacts_under_root(settings):
    first = experiment_id("exclusion_neet", settings)
    assert experiment_id("exclusion_neet", settings) == first
    experiment = client(settings).get_experiment(first)
    assert experiment.name == "lantern/exclusion_neet"
    assert experiment.artifact_location == (settings.artifact_root / "exclusion_neet").as_uri()


def test_register_challenger_tags_then_aliases(settings):
    first = train(settings, {"lantern.quarter": "2025Q1"})
    mlflow_client = client(settings)
    aliased = mlflow_client.get_model_version_by_alias(MODEL, "challenger")
    assert str(aliased.version) == str(first.version) == "1"
    assert aliased.tags["lantern.quarter"] == "2025Q1"
    assert aliased.status == "READY"
    assert mlflow_client.get_run(first.run_id).info.status == "FINISHED"
    assert is_complete(first, settings)
    assert "challenger" in mlflow_client.get_registered_model(MODEL).description

    second = train(settings)
    assert str(get_alias(MODEL, "challenger", settings).version) == "2"
    assert second.tags[tracking.PREVIOUS_CHALLENGER_TAG] == "1"
    assert mlflow.pyfunc.load_model(f"models:/{MODEL}@challenger").predict([1.0, 2.0]) == [0.5, 0.5]


def test_failure_in_run_marks_it_failed_and_registers_nothing(settings):
    with pytest.raises(RuntimeError, match="features went missing"):
        with failure_safe_run(MODEL, "quarter", settings) as run:
            log_tiny()
            raise RuntimeError("features went missing")
    finished = client(settings).get_run(run.info.run_id)
    assert finished.info.status == "FAILED"
    assert finished.data.tags["lantern.failure"] == "RuntimeError: features went missing"
    assert get_alias(MODEL, "challenger", settings) is None
    assert mlflow.active_run() is None


def test_failure_after_registration_rolls_it_back(settings):
    train(settings)
    with pytest.raises(KeyboardInterrupt):
        with failure_safe_run(MODEL, "quarter", settings) as run:
            uri = log_tiny()
            register_challenger(uri, MODEL, run_id=run.info.run_id, tags={}, settings=settings)
            assert str(get_alias(MODEL, "challenger", settings).version) == "2"
            raise KeyboardInterrupt
    assert client(settings).get_run(run.info.run_id).info.status == "FAILED"
    assert live_versions(settings) == ["1"]
    assert str(get_alias(MODEL, "challenger", settings).version) == "1"  # put back


def test_bad_tag_deletes_the_new_version(settings):
    train(settings)
    with failure_safe_run(MODEL, "quarter", settings) as run:
        uri = log_tiny()
        with pytest.raises(MlflowException, match="Invalid value"):
            register_challenger(
                uri, MODEL, run_id=run.info.run_id, tags={"a/../b": "x"}, settings=settings
            )
        assert live_versions(settings) == ["1"]
        assert str(get_alias(MODEL, "challenger", settings).version) == "1"


def test_interrupt_inside_registration_deletes_the_new_version(settings, monkeypatch):
    train(settings)

    def interrupted(*args, **kwargs):
        assert live_versions(settings) == ["2", "1"]  # the version exists at this point
        raise KeyboardInterrupt

    monkeypatch.setattr(tracking, "_set_version_tags", interrupted)
    with failure_safe_run(MODEL, "quarter", settings) as run:
        uri = log_tiny()
        with pytest.raises(KeyboardInterrupt):
            register_challenger(uri, MODEL, run_id=run.info.run_id, tags={}, settings=settings)
        assert live_versions(settings) == ["1"]
        assert str(get_alias(MODEL, "challenger", settings).version) == "1"


def test_registration_outside_a_running_run_is_refused(settings):
    with failure_safe_run(MODEL, "quarter", settings) as run:
        uri = log_tiny()
    with pytest.raises(ValueError, match="last step"):
        register_challenger(uri, MODEL, run_id=run.info.run_id, tags={}, settings=settings)
    assert live_versions(settings) == []


def test_get_alias_is_none_when_model_or_alias_is_missing(settings):
    assert get_alias("nobody", "champion", settings) is None
    train(settings)
    assert get_alias(MODEL, "champion", settings) is None


def test_load_run_artifact_json(settings):
    with failure_safe_run(MODEL, "quarter", settings) as run:
        mlflow.log_dict({"passed": True, "reasons": []}, "fairness/result.json")
    run_id = run.info.run_id
    assert load_run_artifact_json(run_id, "fairness/result.json", settings) == {
        "passed": True,
        "reasons": [],
    }
    assert load_run_artifact_json(run_id, "fairness/missing.json", settings) is None


def test_interrupt_inside_a_store_call_still_ends_the_run_failed(settings):
    """A Ctrl-C can land just after sqlite has started a statement for MLflow (the signal is
    handled when ``cursor.execute`` returns): the statement, left open in the interrupted
    frames, holds a lock. The clean-up must still end the run FAILED, not wait on the lock
    and leave it RUNNING. The interrupt is injected through SQLAlchemy's event hooks."""
    armed = False

    def interrupt(conn, cursor, statement, parameters, context, executemany):
        nonlocal armed
        if armed and statement.lstrip().upper().startswith("SELECT") and "FROM runs" in statement:
            armed = False
            raise KeyboardInterrupt

    event.listen(Engine, "after_cursor_execute", interrupt)
    try:
        with pytest.raises(KeyboardInterrupt):
            with failure_safe_run(MODEL, "quarter", settings) as run:
                armed = True
                mlflow.log_params({"num_leaves": 4})  # reads the run, then writes
    finally:
        event.remove(Engine, "after_cursor_execute", interrupt)
    assert not armed  # the interrupt did land inside the store call
    finished = client(settings).get_run(run.info.run_id)
    assert finished.info.status == "FAILED"
    assert finished.data.tags["lantern.failure"].startswith("KeyboardInterrupt")
    assert mlflow.active_run() is None


KILLED_TRAINING = textwrap.dedent(
    """
    import signal, sys
    signal.signal(signal.SIGINT, signal.default_int_handler)
    import mlflow
    from models import tracking

    class Tiny(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input: list[float], params=None) -> list[float]:
            return model_input

    settings = tracking.TrackingSettings(uri=sys.argv[1], artifact_root=sys.argv[2])
    with tracking.failure_safe_run("toy", "killed", settings) as run:
        print("RUN", run.info.run_id, flush=True)
        info = mlflow.pyfunc.log_model(
            name="model", python_model=Tiny(), pip_requirements=["mlflow==3.17.2"]
        )
        tracking.register_challenger(
            info.model_uri, "toy", run_id=run.info.run_id, tags={}, settings=settings
        )
    """
)


def interrupt_in_registration(settings: TrackingSettings, sig: str, tmp_path: Path) -> str:
    """Run training in a subprocess that signals itself (``sig``) once its version exists
    (the ``during_registration`` checkpoint); the run id."""
    env = {
        **os.environ,
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "BENTOML_DO_NOT_TRACK": "true",
        tracking.INTERRUPT_VARIABLE: "during_registration",
        tracking.INTERRUPT_SIGNAL_VARIABLE: sig,
    }
    done = subprocess.run(
        [sys.executable, "-c", KILLED_TRAINING, settings.uri, str(settings.artifact_root)],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
    )
    # an uncaught KeyboardInterrupt ends Python as if by the signal itself
    assert done.returncode == -getattr(signal, sig), done.stdout + done.stderr
    return done.stdout.split()[1]


def test_sigint_during_registration_leaves_no_version(settings, tmp_path):
    run_id = interrupt_in_registration(settings, "SIGINT", tmp_path)
    run = client(settings).get_run(run_id)
    assert run.info.status == "FAILED"
    assert run.data.tags["lantern.failure"].startswith("KeyboardInterrupt")
    assert get_alias(MODEL, "challenger", settings) is None
    assert live_versions(settings) == []


def test_sigkill_during_registration_leaves_no_challenger(settings, tmp_path):
    run_id = interrupt_in_registration(settings, "SIGKILL", tmp_path)
    assert get_alias(MODEL, "challenger", settings) is None
    # A hard kill cannot clean up: the orphan has no alias, its run never finished, and it
    # cannot be promoted.
    (orphan,) = client(settings).search_model_versions(f"run_id = '{run_id}'")
    assert not orphan.aliases
    assert client(settings).get_run(run_id).info.status == "RUNNING"
    assert not is_complete(orphan, settings)
    with pytest.raises(ValueError, match="never finished registering"):
        promote(
            MODEL,
            challenger_metrics={"auc": 0.8, "ece": 0.02},
            champion_metrics=None,
            fairness_result={"passed": True, "reasons": []},
            policy=PromotionPolicy(),
            settings=settings,
            version=str(orphan.version),
        )
    assert get_alias(MODEL, "champion", settings) is None


def test_clean_leftovers_ends_a_dead_run_and_deletes_its_orphan(settings, tmp_path):
    first = train(settings)
    run_id = interrupt_in_registration(settings, "SIGKILL", tmp_path)
    assert live_versions(settings) == ["2", "1"]

    cleaned = clean_leftovers(settings)

    assert cleaned.failed_runs == [run_id]
    assert cleaned.deleted_versions == [f"{MODEL} v2"]
    assert cleaned.lines() == [
        f"cleaned: run {run_id} was left RUNNING by a process that ended; marked FAILED",
        f"cleaned: {MODEL} v2 never finished registering; deleted",
    ]
    run = client(settings).get_run(run_id)
    assert run.info.status == "FAILED"
    assert run.data.tags["lantern.failure"].startswith(
        f"Interrupted: process {run.data.tags[tracking.OWNER_PID_TAG]} on "
    )
    assert live_versions(settings) == ["1"]
    assert str(get_alias(MODEL, "challenger", settings).version) == str(first.version)
    assert clean_leftovers(settings).lines() == []  # nothing left to clean


def test_clean_leftovers_leaves_live_runs_and_other_hosts_alone(settings):
    client(settings).create_registered_model(MODEL)
    with failure_safe_run(MODEL, "live", settings) as run:
        uri = log_tiny()
        version = client(settings).create_model_version(MODEL, source=uri, run_id=run.info.run_id)
        # this process is alive: its run and its half-made version are not leftovers
        assert clean_leftovers(settings).lines() == []
        assert live_versions(settings) == [str(version.version)]
        client(settings).delete_model_version(MODEL, str(version.version))
    # a run whose owner is on another host cannot be judged from here: left alone
    elsewhere = client(settings).create_run(
        experiment_id(MODEL, settings),
        tags={
            tracking.OWNER_HOST_TAG: "another-host.invalid",
            tracking.OWNER_PID_TAG: "1",
            tracking.OWNER_STARTED_TAG: "0.0",
        },
    )
    # and so is one that records no owner (not made by failure_safe_run)
    unowned = client(settings).create_run(experiment_id(MODEL, settings))
    assert clean_leftovers(settings).lines() == []
    for other in (elsewhere, unowned):
        assert client(settings).get_run(other.info.run_id).info.status == "RUNNING"


def test_clean_leftovers_deletes_a_version_whose_run_failed_or_vanished(settings):
    train(settings)
    with failure_safe_run(MODEL, "failed later", settings) as run:
        uri = log_tiny()
    failed = client(settings).create_model_version(MODEL, source=uri, run_id=run.info.run_id)
    client(settings).set_terminated(run.info.run_id, "FAILED")

    cleaned = clean_leftovers(settings)

    assert cleaned.failed_runs == []
    assert cleaned.deleted_versions == [f"{MODEL} v{failed.version}"]
    assert live_versions(settings) == ["1"]


def test_an_unknown_checkpoint_name_is_refused(monkeypatch):
    monkeypatch.setenv(tracking.INTERRUPT_VARIABLE, "before_regstration")
    with pytest.raises(ValueError, match="not a step; use one of"):
        tracking.checkpoint("before_registration")
    monkeypatch.setenv(tracking.INTERRUPT_VARIABLE, "before_registration")
    monkeypatch.setenv(tracking.INTERRUPT_SIGNAL_VARIABLE, "SIGTERM")
    with pytest.raises(ValueError, match="use SIGINT or SIGKILL"):
        tracking.checkpoint("before_registration")
    tracking.checkpoint("run_started")  # another step: nothing happens


@pytest.fixture
def ctrl_c_interrupts():
    """Ctrl-C raises KeyboardInterrupt here, as at a terminal, whatever the test worker's
    SIGINT handler was (other libraries in the same worker may have replaced it)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_a_ctrl_c_as_the_run_starts_still_ends_it_failed(settings, monkeypatch, ctrl_c_interrupts):
    """A Ctrl-C that lands once the run's row exists but before the run is handed over (the
    ``run_started`` checkpoint) must not leave it RUNNING: the run is found by its attempt tag."""
    monkeypatch.setenv(tracking.INTERRUPT_VARIABLE, "run_started")
    with pytest.raises(KeyboardInterrupt):
        with failure_safe_run(MODEL, "quarter", settings):
            pytest.fail("the block must not start")
    (run,) = client(settings).search_runs([experiment_id(MODEL, settings)])
    assert run.info.status == "FAILED"
    assert run.data.tags["lantern.failure"].startswith("KeyboardInterrupt")
    assert run.data.tags[tracking.OWNER_PID_TAG] == str(os.getpid())
    assert mlflow.active_run() is None
