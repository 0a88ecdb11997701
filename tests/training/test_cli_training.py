"""The installed ``lantern train``, ``promote`` and ``retrain`` commands, run as subprocesses
against real MLflow sqlite stores, through an analyst's quarters.

The tests share one store and run in the order written, each from the state the previous one
left. Each ``lantern`` process spends seconds importing its libraries, so independent steps
run side by side, each on its own sqlite file: a copy of the store taken between steps
(:meth:`Store.copy`, which shares the artifacts, only ever adding to them) or a fresh one.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from mlflow import MlflowClient

from features.registry import default_registry
from features.synth import write_partnership
from models.tracking import INTERRUPT_SIGNAL_VARIABLE, INTERRUPT_VARIABLE
from training.config import DEFAULT_CONFIG

LANTERN = Path(sys.executable).with_name("lantern")
SV, EN = "serious_violence", "exclusion_neet"
PASSED = {"passed": True, "reasons": []}
TIMEOUT = 240


class Store:
    """A working folder whose ``mlruns/mlflow.db`` is the store the commands run against."""

    def __init__(self, folder: Path, db: Path):
        self.folder = folder
        self.db = folder / "mlruns" / "mlflow.db"
        self.db.parent.mkdir(parents=True)
        shutil.copy(db, self.db)
        self.uri = f"sqlite:///{self.db}"
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
        self.env = {
            **inherited,
            "MLFLOW_TRACKING_URI": self.uri,
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "BENTOML_DO_NOT_TRACK": "true",
        }

    def copy(self, folder: Path) -> Store:
        """The store as it is now, in another sqlite file (artifacts stay where they are)."""
        return Store(folder, self.db)

    def start(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(
            [str(LANTERN), *args],
            cwd=self.folder,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def run(self, *args: str) -> subprocess.CompletedProcess:
        (result,) = finish(self.start(*args))
        return result

    def client(self) -> MlflowClient:
        return MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)

    def alias(self, name: str, alias: str) -> str | None:
        aliases = self.client().get_registered_model(name).aliases
        return None if alias not in aliases else str(aliases[alias])

    def tags(self, name: str, version: str) -> dict[str, str]:
        return self.client().get_model_version(name, version).tags

    def gates(self, name: str, version: str) -> dict[str, bool]:
        gates = json.loads(self.tags(name, version)["lantern.promotion.gates"])
        return {g["name"]: g["passed"] for g in gates}

    def versions(self, name: str) -> list[str]:
        return sorted(str(v.version) for v in self.client().search_model_versions(f"name='{name}'"))

    def pass_fairness(self, name: str, version: str) -> None:
        """Log a passing fairness result to the version's run (the audit is not under test)."""
        run_id = self.client().get_model_version(name, version).run_id
        self.client().log_text(run_id, json.dumps(PASSED), "fairness/result.json")

    def artifact_json(self, name: str, version: str, path: str) -> dict:
        run_id = self.client().get_model_version(name, version).run_id
        local = self.client().download_artifacts(run_id, path, str(self.folder / "downloads"))
        return json.loads(Path(local).read_text())

    def runs(self) -> list[tuple[str, str]]:
        """(run id, status) of every run, read directly so as not to disturb a writer."""
        with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=10) as connection:
            return connection.execute("SELECT run_uuid, status FROM runs").fetchall()


def finish(*processes: subprocess.Popen) -> list[subprocess.CompletedProcess]:
    """Wait for processes started together; their outputs."""
    results = []
    for process in processes:
        try:
            stdout, stderr = process.communicate(timeout=TIMEOUT)
        finally:
            process.kill()
        results.append(
            subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
        )
    return results


def ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def refused(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "REFUSED" in result.stdout, result.stdout + result.stderr
    return result.stdout


def refused_or_error(result: subprocess.CompletedProcess) -> str:
    """The output of a command that exits 1 (refused, or an error it explains)."""
    assert result.returncode == 1, result.stdout + result.stderr
    return result.stdout + result.stderr


def gate_line(output: str, gate: str) -> str:
    lines = [line for line in output.splitlines() if line.split()[:1] == [gate]]
    assert lines, output
    return lines[0]


def write_settings(path: Path, **changes) -> Path:
    """The package's training settings with 20 bootstrap replicates and ``changes``,
    registering a model worse than a baseline (2,500 children cannot show it is better)."""
    settings = yaml.safe_load(DEFAULT_CONFIG.read_text())
    registration = {**settings["registration"], "when_worse": "register"}
    settings.update({"bootstrap": 20, "registration": registration, **changes})
    path.write_text(yaml.safe_dump(settings))
    return path


@pytest.fixture(scope="module")
def inputs(small_partnership, feature_table, tmp_path_factory):
    """The partnership folder, its feature table, fast settings and deliberately bad ones."""
    folder = tmp_path_factory.mktemp("inputs")
    partnership = write_partnership(small_partnership, folder / "partnership")
    features = folder / "features.parquet"
    feature_table.to_parquet(features)
    fast = write_settings(folder / "fast.yaml")
    # for the interrupted runs, whose models are thrown away: few trees, few replicates
    settings = yaml.safe_load(DEFAULT_CONFIG.read_text())
    lightgbm = {**settings["lightgbm"], "n_estimators": 40, "early_stopping_rounds": 10}
    tiny = write_settings(folder / "tiny.yaml", bootstrap=10, lightgbm=lightgbm)
    keep = {"age_years"}  # a model of age alone ranks far worse than the full one
    bad = write_settings(
        folder / "bad.yaml",
        features={"exclude": [n for n in default_registry() if n not in keep], "sensitive": {}},
    )
    return {
        "data": str(partnership),
        "features": str(features),
        "fast": str(fast),
        "tiny": str(tiny),
        "bad": str(bad),
    }


@pytest.fixture(scope="module")
def quarter(empty_store, tmp_path_factory) -> Store:
    """The store the analyst's quarters run against."""
    return Store(tmp_path_factory.mktemp("quarter"), empty_store)


def interrupted_at(store: Store, step: str, *args: str, sig: str = "SIGINT") -> subprocess.Popen:
    """``lantern train`` that signals itself at the named ``step`` of its training run
    (:func:`models.tracking.checkpoint`), as a Ctrl-C (SIGINT) or a power cut (SIGKILL)."""
    env = {**store.env, INTERRUPT_VARIABLE: step, INTERRUPT_SIGNAL_VARIABLE: sig}
    # A process that ignores Ctrl-C passes that on to its children (as a shell's background
    # jobs do): let the child take it as a terminal's Ctrl-C.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return subprocess.Popen(
            [str(LANTERN), *args],
            cwd=store.folder,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.fixture(scope="module")
def interrupted(inputs, empty_store, tmp_path_factory) -> dict[str, tuple[Store, subprocess.Popen]]:
    """One ``lantern train`` of serious violence per interruption, each on a fresh store;
    started by the first test, so that they run while the main store trains."""
    args = ("train", "--features", inputs["features"], "--model", SV, "--config", inputs["tiny"])
    # a Ctrl-C inside registration is tests/training/test_tracking.py's (the same code path
    # under a toy model); here, the real command's Ctrl-C and its power cut
    cases = {"before_registration": "SIGINT", "killed_during_registration": "SIGKILL"}
    runs = {}
    for case, sig in cases.items():
        store = Store(tmp_path_factory.mktemp(case), empty_store)
        step = case.removeprefix("killed_")
        runs[case] = (store, interrupted_at(store, step, *args, sig=sig))
    yield runs
    for _, process in runs.values():
        process.kill()
        process.wait()


def test_train_registers_both_models_as_challengers(quarter, inputs, interrupted):
    out = ok(quarter.run("train", inputs["data"], "--config", inputs["fast"]))
    assert "Trained and registered as challenger" in out
    summary, comparisons = out.split("Paired differences on the headline")
    rows = [line for line in summary.splitlines() if EN in line or SV in line]
    assert len(rows) == 2, out
    for line in rows:  # version 1, and an oracle AUC: the ground truth was found beside it
        cells = [c.strip() for c in line.strip("│┃ ").split("│")]
        assert cells[1] == "1" and cells[-1] not in ("", "-"), line
    for baseline in ("indicator-count checklist", "age alone", "logistic regression"):
        assert comparisons.count(f"Lantern − {baseline}") == 2, out
    # the label-bias check from the extracts, for the outcome with a cross-agency pair
    assert f"{SV}: label-bias check: police_against_health" in " ".join(out.split()), out
    assert f"{EN}: label-bias check" not in out
    for name in (EN, SV):
        assert quarter.versions(name) == ["1"]
        assert quarter.alias(name, "challenger") == "1"
        assert quarter.alias(name, "champion") is None
        run = quarter.client().get_run(quarter.client().get_model_version(name, "1").run_id)
        assert run.info.status == "FINISHED"
        logged = {a.path for a in quarter.client().list_artifacts(run.info.run_id, "label_bias")}
        assert ("label_bias/label_bias.json" in logged) == (name == SV), (name, logged)


def test_promote_refuses_a_failed_gate_and_a_force_without_reason(quarter, tmp_path):
    unchanged = quarter.copy(tmp_path)
    gate, force = finish(
        quarter.start("promote", "--model", SV),
        unchanged.start("promote", "--model", SV, "--force"),
    )
    # no fairness audit: refused, and only the decision is recorded
    out = refused(gate)
    assert "FAIL" in gate_line(out, "fairness") and "lantern audit" in gate_line(out, "fairness")
    assert quarter.alias(SV, "champion") is None
    assert quarter.alias(SV, "challenger") == "1"
    assert quarter.tags(SV, "1")["lantern.promotion.decision"] == "refused"
    assert quarter.gates(SV, "1") == {"auc": True, "ece": True, "fairness": False}
    # --force without --reason: an error, and nothing at all is recorded
    assert force.returncode == 1
    assert "--force needs a reason" in force.stdout + force.stderr
    assert unchanged.alias(SV, "champion") is None
    assert "lantern.promotion.decision" not in unchanged.tags(SV, "1")


def test_force_with_reason_promotes_and_records_why(quarter):
    why = "pilot go-live agreed by the board; audit booked"
    out = ok(quarter.run("promote", "--model", SV, "--force", "--reason", why))
    assert "FORCED" in out and why in out
    assert quarter.alias(SV, "champion") == "1"
    tags = quarter.tags(SV, "1")
    assert tags["lantern.promotion.decision"] == "forced"
    assert tags["lantern.promotion.reason"] == why
    assert quarter.alias(EN, "champion") is None  # only the model named


@pytest.fixture(scope="module")
def worse(quarter, tmp_path_factory) -> Store:
    """The store with serious violence's first champion, where a worse challenger is trained."""
    return quarter.copy(tmp_path_factory.mktemp("worse"))


def test_retrain_reports_and_promotes_nothing(quarter, worse, inputs):
    retrain, bad = finish(
        quarter.start("retrain", inputs["data"], "--config", inputs["fast"]),
        worse.start(
            *("train", "--features", inputs["features"], "--model", SV, "--config", inputs["bad"])
        ),
    )
    assert "Nothing was promoted" in ok(retrain)
    for name in (EN, SV):
        assert quarter.versions(name) == ["1", "2"]
        assert quarter.alias(name, "challenger") == "2"
    assert quarter.alias(SV, "champion") == "1"  # unchanged
    assert quarter.alias(EN, "champion") is None
    report = quarter.artifact_json(SV, "2", "retrain/report.json")
    assert (report["challenger_version"], report["champion_version"]) == ("2", "1")
    # the same data and seed: the champion scores the challenger's rows exactly as it does
    assert report["challenger"] == report["champion"]
    assert report["base_rate"]["reference"] == report["base_rate"]["current"] > 0
    assert report["base_rate"]["change_points"] == 0
    drift = {d["feature"]: d for d in report["drift"]}
    assert {"age_years", "attendance_12m", "suspensions_12m"} <= set(drift)
    assert not set(drift) & {"sex", "ethnicity", "child_id", "true_label", "label_" + SV}
    assert all(d["psi"] == 0 and d["reading"] == "stable" for d in drift.values())  # same rows
    first = quarter.artifact_json(EN, "2", "retrain/report.json")
    assert first["champion_version"] is None and first["drift"] is None
    # meanwhile, in the other store: a challenger that knows only the child's age
    ok(bad)
    assert worse.alias(SV, "challenger") == "2" and worse.alias(SV, "champion") == "1"


def test_no_worse_challenger_is_promoted_and_a_worse_one_refused(quarter, worse):
    quarter.pass_fairness(SV, "2")
    worse.pass_fairness(SV, "2")  # so that only the AUC gate can refuse it
    same, bad = finish(
        quarter.start("promote", "--model", SV), worse.start("promote", "--model", SV)
    )
    out = ok(same)
    assert "PROMOTED" in out and "champion was v1" in out
    assert quarter.alias(SV, "champion") == "2"
    assert quarter.tags(SV, "2")["lantern.promotion.decision"] == "promoted"
    assert quarter.tags(SV, "2")["lantern.promotion.previous_champion"] == "1"
    assert quarter.gates(SV, "2") == {"auc": True, "ece": True, "fairness": True}

    out = refused(bad)
    assert "champion stays v1" in out and "FAIL" in gate_line(out, "auc")
    assert worse.alias(SV, "champion") == "1"
    assert worse.alias(SV, "challenger") == "2"
    assert worse.tags(SV, "2")["lantern.promotion.decision"] == "refused"
    gates = worse.gates(SV, "2")
    assert gates["auc"] is False and gates["fairness"] is True


def test_a_ctrl_c_during_training_fails_the_run_and_registers_nothing(interrupted):
    store, process = interrupted["before_registration"]
    (result,) = finish(process)
    assert result.returncode not in (0, None), result.stdout + result.stderr
    ((run_id, status),) = store.runs()
    assert status == "FAILED", result.stderr
    failure = store.client().get_run(run_id).data.tags["lantern.failure"]
    assert failure.startswith("KeyboardInterrupt"), failure
    assert not store.client().search_model_versions()
    assert all(not m.aliases for m in store.client().search_registered_models())


def test_a_kill_mid_registration_is_cleaned_by_the_next_command(interrupted, inputs):
    store, process = interrupted["killed_during_registration"]
    (result,) = finish(process)
    assert result.returncode == -signal.SIGKILL, result.stdout + result.stderr
    # what a power cut leaves: a RUNNING run and a version that never finished registering
    ((run_id, status),) = store.runs()
    assert status == "RUNNING"
    assert store.versions(SV) == ["1"] and store.alias(SV, "challenger") is None

    out = refused_or_error(store.run("promote", "--model", SV))
    assert f"cleaned: run {run_id} was left RUNNING by a process that ended" in out, out
    assert f"cleaned: {SV} v1 never finished registering; deleted" in out, out
    assert "no challenger" in out.lower(), out
    ((_, status),) = store.runs()
    assert status == "FAILED"
    tags = store.client().get_run(run_id).data.tags
    assert tags["lantern.failure"].startswith("Interrupted: process "), tags
    assert store.versions(SV) == []

    # the next training starts from a clean store and says nothing more was cleaned
    out = ok(
        store.run(
            "train", "--features", inputs["features"], "--model", SV, "--config", inputs["tiny"]
        )
    )
    assert "cleaned:" not in out, out
    assert store.versions(SV) == ["2"] and store.alias(SV, "challenger") == "2"
