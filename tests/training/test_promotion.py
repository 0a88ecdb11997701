"""The promotion gate against a real MLflow sqlite store: champion moves only past the gates."""

from __future__ import annotations

import json
import pickle
import tempfile
from pathlib import Path

import lightgbm as lgb
import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient

from models.scoring import ScoringModel
from models.tracking import (
    TrackingSettings,
    failure_safe_run,
    get_alias,
    load_run_artifact_json,
    register_challenger,
)
from models.versions import SEAL_TAG, UnsealedChampionError, load_champion, scoring_files
from training.pipeline import log_scoring_model
from training.promotion import (
    FAIRNESS_ARTIFACT,
    PromotionPolicy,
    fairness_gate,
    performance_gates,
    promote,
)

MODEL = "toy"
POLICY = PromotionPolicy()
FAIR = {"passed": True, "reasons": ["selection rates within 0.8-1.25 for every group"]}
CHAMPION_METRICS = {"auc": 0.75, "ece": 0.03}


def tiny_model(seed: int = 0) -> ScoringModel:
    """A real scoring model, fitted in milliseconds on 60 random rows."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(60, 2))
    y = (X[:, 0] + rng.normal(size=60) > 0).astype(int)
    params = {"objective": "binary", "num_leaves": 4, "min_data_in_leaf": 5, "verbose": -1}
    booster = lgb.train(params, lgb.Dataset(X, y), num_boost_round=3)
    return ScoringModel(booster, ["a", "b"], slope=1.0, intercept=0.0, outcome=MODEL)


# The stores (``empty_store``, ``settings``) are in conftest.py.


def train(settings: TrackingSettings, fairness: dict | None = FAIR) -> str:
    """A training run that logs its fairness result and registers a challenger; its version."""
    with failure_safe_run(MODEL, "quarter", settings) as run, tempfile.TemporaryDirectory() as tmp:
        if fairness is not None:
            mlflow.log_dict(fairness, FAIRNESS_ARTIFACT)
        uri = log_scoring_model(tiny_model(), Path(tmp)).model_uri
        version = register_challenger(
            uri, MODEL, run_id=run.info.run_id, tags={}, settings=settings
        )
    return str(version.version)


def challenger_fairness(settings: TrackingSettings) -> dict | None:
    run_id = get_alias(MODEL, "challenger", settings).run_id
    return load_run_artifact_json(run_id, FAIRNESS_ARTIFACT, settings)


def tags(settings: TrackingSettings, version: str) -> dict[str, str]:
    return MlflowClient(settings.uri, settings.uri).get_model_version(MODEL, version).tags


def champion(settings: TrackingSettings) -> str | None:
    version = get_alias(MODEL, "champion", settings)
    return None if version is None else str(version.version)


def run_promote(settings: TrackingSettings, challenger: dict[str, float], **kwargs):
    if "fairness_result" not in kwargs:
        kwargs["fairness_result"] = challenger_fairness(settings)
    if "champion_metrics" not in kwargs:
        kwargs["champion_metrics"] = CHAMPION_METRICS if champion(settings) else None
    return promote(MODEL, challenger_metrics=challenger, policy=POLICY, settings=settings, **kwargs)


@pytest.fixture
def with_champion(settings: TrackingSettings) -> TrackingSettings:
    """Version 1 is champion; version 2 is the challenger."""
    train(settings)
    assert run_promote(settings, CHAMPION_METRICS).promoted
    train(settings)
    return settings


def test_first_promotion_with_no_champion(settings):
    version = train(settings)
    decision = run_promote(settings, {"auc": 0.70, "ece": 0.05})
    assert decision.promoted and decision.previous_champion is None
    assert [g.reason.startswith("no champion yet") for g in decision.gates[:2]] == [True, True]
    assert champion(settings) == version == "1"
    recorded = tags(settings, version)
    assert recorded["lantern.promotion.decision"] == "promoted"
    assert "lantern.promotion.at" in recorded
    assert [g["name"] for g in json.loads(recorded["lantern.promotion.gates"])] == [
        "auc",
        "ece",
        "fairness",
    ]


def test_passing_gates_move_champion_and_are_recorded(with_champion):
    decision = run_promote(with_champion, {"auc": 0.745, "ece": 0.035})
    assert decision.promoted and not decision.forced
    assert (decision.version, decision.previous_champion) == ("2", "1")
    assert champion(with_champion) == "2"
    recorded = tags(with_champion, "2")
    assert recorded["lantern.promotion.decision"] == "promoted"
    assert recorded["lantern.promotion.previous_champion"] == "1"
    assert all(g["passed"] for g in json.loads(recorded["lantern.promotion.gates"]))
    assert "PROMOTED" in decision.summary()


def test_worse_auc_is_refused_and_changes_no_alias(with_champion):
    decision = run_promote(with_champion, {"auc": 0.72, "ece": 0.03})
    assert not decision.promoted
    assert champion(with_champion) == "1"
    assert str(get_alias(MODEL, "challenger", with_champion).version) == "2"
    recorded = tags(with_champion, "2")
    assert recorded["lantern.promotion.decision"] == "refused"
    auc = json.loads(recorded["lantern.promotion.gates"])[0]
    assert auc["name"] == "auc" and not auc["passed"]
    assert "0.720" in auc["reason"] and "0.750" in auc["reason"]
    assert "REFUSED" in decision.summary() and "FAIL" in decision.summary()


def test_missing_fairness_result_is_refused(with_champion):
    decision = run_promote(with_champion, CHAMPION_METRICS, fairness_result=None)
    assert not decision.promoted
    assert champion(with_champion) == "1"
    fairness = decision.gates[-1]
    assert not fairness.passed
    assert "lantern audit --model toy" in fairness.reason


def test_fairness_result_read_from_the_run(settings):
    train(settings, fairness={"passed": False, "reasons": ["SEND flagged at 1.6x"]})
    assert challenger_fairness(settings)["passed"] is False
    decision = run_promote(settings, CHAMPION_METRICS)
    assert not decision.promoted and "SEND flagged at 1.6x" in decision.gates[-1].reason
    assert champion(settings) is None


def test_force_without_reason_is_an_error_and_changes_nothing(with_champion):
    for reason in (None, "   "):
        with pytest.raises(ValueError, match="--reason"):
            run_promote(with_champion, {"auc": 0.5, "ece": 0.2}, force=True, reason=reason)
    assert champion(with_champion) == "1"
    assert "lantern.promotion.decision" not in tags(with_champion, "2")


def test_force_with_reason_moves_champion_and_records_why(with_champion):
    why = "champion trained on records since found to be duplicated"
    decision = run_promote(with_champion, {"auc": 0.70, "ece": 0.03}, force=True, reason=why)
    assert decision.promoted and decision.forced
    assert champion(with_champion) == "2"
    recorded = tags(with_champion, "2")
    assert recorded["lantern.promotion.decision"] == "forced"
    assert recorded["lantern.promotion.reason"] == why
    assert why in decision.summary()


def test_champion_without_its_metrics_is_an_error(with_champion):
    with pytest.raises(ValueError, match="has a champion"):
        run_promote(with_champion, CHAMPION_METRICS, champion_metrics=None)


def test_no_challenger_is_an_error(settings):
    with pytest.raises(LookupError, match="no challenger"):
        run_promote(settings, CHAMPION_METRICS, fairness_result=FAIR, champion_metrics=None)


def test_tolerances_are_inclusive():
    at_edge = performance_gates({"auc": 0.74, "ece": 0.04}, CHAMPION_METRICS, POLICY)
    assert all(g.passed for g in at_edge)
    beyond = performance_gates({"auc": 0.7399, "ece": 0.0401}, CHAMPION_METRICS, POLICY)
    assert [g.passed for g in beyond] == [False, False]
    assert "0.010 allowed" in beyond[1].reason
    nan = performance_gates({"auc": float("nan"), "ece": 0.03}, CHAMPION_METRICS, POLICY)
    assert not nan[0].passed


def test_fairness_gate_reads_the_result():
    assert fairness_gate(FAIR, POLICY).passed
    assert not fairness_gate({"reasons": []}, POLICY).passed
    relaxed = PromotionPolicy(require_fairness=False)
    assert fairness_gate(None, relaxed).passed


# --------------------------------------------------------------------------- the seal


def test_promotion_seals_the_champion_and_a_moved_alias_is_refused(with_champion):
    settings = with_champion
    client = MlflowClient(settings.uri, settings.uri)
    version, digest = client.get_registered_model(MODEL).tags[SEAL_TAG].split()
    assert version == "1" and len(digest) == 64
    assert load_champion(MODEL, settings, sealed=True).number == "1"
    client.set_registered_model_alias(MODEL, "champion", "2")  # not through the gate
    assert load_champion(MODEL, settings).number == "2", "unsealed reading still works"
    with pytest.raises(UnsealedChampionError, match="moved outside the promotion gate"):
        load_champion(MODEL, settings, sealed=True)


def test_champion_files_changed_after_promotion_are_refused(with_champion, tmp_path):
    settings = with_champion
    champion_version = get_alias(MODEL, "champion", settings)
    folder = scoring_files(champion_version, settings, tmp_path)
    stored = Path(
        MlflowClient(settings.uri, settings.uri)
        .get_logged_model(champion_version.source.removeprefix("models:/"))
        .artifact_location.removeprefix("file://")
    )
    meta = stored / "artifacts" / "scoring" / "model.json"
    assert meta.read_text() == (folder / "model.json").read_text()
    meta.write_text(meta.read_text().replace('"slope": 1.0', '"slope": 9.0'))
    with pytest.raises(UnsealedChampionError, match="SHA-256 differs"):
        load_champion(MODEL, settings, sealed=True)


class _Trap:
    """Unpickling this writes a file: the proof that a pickle was loaded."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (Path(self.path).write_text, ("pickle ran",))


def test_a_pickled_model_is_never_unpickled_by_loading(with_champion, tmp_path):
    settings = with_champion
    champion_version = get_alias(MODEL, "champion", settings)
    stored = Path(
        MlflowClient(settings.uri, settings.uri)
        .get_logged_model(champion_version.source.removeprefix("models:/"))
        .artifact_location.removeprefix("file://")
    )
    pickled = list(stored.rglob("*.pkl"))
    assert pickled, "MLflow's pyfunc is pickled: the file an attacker would replace"
    proof = tmp_path / "ran"
    for path in pickled:
        path.write_bytes(pickle.dumps(_Trap(str(proof))))
    loaded = load_champion(MODEL, settings, sealed=True)
    assert loaded.model.predict_proba(np.zeros((1, 2))).shape == (1,)
    assert not proof.exists()
