"""Small tables and useless models: the tree settings adapt to a few hundred rows, and a model
no better than its baseline, or a constant, is not registered without a word."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from training_fixtures import isolated_store

from training.choice import choose
from training.config import LightGBMSettings, RegistrationSettings, TrainingSettings
from training.intervals import paired_difference
from training.model import adapted, has_splits
from training.tabular import fit_tabular, load_tabular_config

LANTERN = Path(sys.executable).with_name("lantern")


@pytest.fixture
def fast_settings(fast_settings: TrainingSettings) -> TrainingSettings:
    """The fast settings with the default registration rule (refuse a worse model)."""
    return fast_settings.model_copy(update={"registration": RegistrationSettings()})


COMPAS = Path(__file__).resolve().parents[2] / "docs" / "examples" / "compas_two_year.yaml"


def small_table(folder: Path, rows: int, seed: int) -> Path:
    """A table nobody tuned on: ``rows`` people, 6 features, a logistic outcome that depends
    on three of them (one through a threshold)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 6))
    logit = -1.0 + 0.9 * x[:, 0] - 0.7 * x[:, 1] + 1.2 * (x[:, 2] > 0.5)
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(6)])
    frame.insert(0, "person", [f"P{i:04d}" for i in range(rows)])
    frame["outcome"] = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    frame["group"] = rng.choice(["a", "b"], rows)
    path = folder / "small.csv"
    frame.to_csv(path, index=False)
    config = {
        "name": "small_table",
        "description": "A synthetic outcome of six features.",
        "file": path.name,
        "id": "person",
        "label": "outcome",
        "split": "random",
        "numeric": [f"x{i}" for i in range(6)],
        "audit": ["group"],
    }
    (folder / "small.yaml").write_text(yaml.safe_dump(config))
    return folder / "small.yaml"


def test_leaves_are_sized_to_the_rows():
    defaults = LightGBMSettings()
    assert adapted(defaults, 240).min_child_samples == 12  # 300 would leave no split at all
    assert adapted(defaults, 100_000).min_child_samples == defaults.min_child_samples
    assert adapted(defaults, 40).min_child_samples == 5


@pytest.mark.parametrize("seed", [1, 2])
def test_on_400_rows_the_model_is_near_logistic_or_not_registered(tmp_path, fast_settings, seed):
    result = fit_tabular(load_tabular_config(small_table(tmp_path, 400, seed)), fast_settings)
    assert has_splits(result.model.booster)
    # the choice is cross-validated over the 320 training and validation rows; the 80 test
    # rows then judge it, with the paired interval their size allows
    difference = paired_difference(result.metrics["lantern"], result.metrics["logistic"], "auc")
    if result.choice.register:
        assert difference.high >= -0.02, (result.choice.reason, difference)
    else:
        assert result.choice.reason.startswith("NOT registered: in 5-fold cross-validation")


@pytest.mark.skipif(
    not load_tabular_config(COMPAS).file.exists(), reason="the COMPAS file is not beside us"
)
def test_a_432_person_sample_of_compas_is_no_longer_a_constant(tmp_path, fast_settings):
    config = load_tabular_config(COMPAS)
    frame = pd.read_csv(config.file)
    for expression in config.filters:
        frame = frame.query(expression)
    frame.sample(432, random_state=0).to_csv(tmp_path / "compas_432.csv", index=False)
    small = config.model_copy(update={"file": tmp_path / "compas_432.csv", "filters": []})
    result = fit_tabular(small, fast_settings)
    assert len(config.features) == 6
    assert has_splits(result.model.booster)  # it was a single leaf: test AUC 0.500
    assert result.metrics["lantern"].point["auc"] > 0.55
    ours, logistic = (result.metrics[k].point["auc"] for k in ("lantern", "logistic"))
    assert result.choice.register == (result.choice.model >= result.choice.baseline_value - 0.02)
    assert ours >= logistic - 0.02 or not result.choice.register


def test_a_constant_model_is_refused_whatever_the_setting():
    y = np.array([0, 1] * 50)
    anyway = RegistrationSettings(when_worse="register")
    choice = choose(y, np.full(100, 0.3), {"logistic": y * 0.5 + 0.1}, anyway, constant=True)
    assert not choice.register and choice.worse
    assert "every tree is a single leaf" in choice.reason


def test_a_model_worse_than_its_baseline_is_refused_unless_the_analyst_chooses():
    rng = np.random.default_rng(0)
    y = (rng.random(2000) < 0.2).astype(int)
    good = y + rng.normal(0, 0.8, 2000)
    noise = rng.random(2000)
    refused = choose(y, noise, {"logistic": good, "age_only": noise}, RegistrationSettings())
    assert not refused.register and refused.baseline == "logistic"
    assert "NOT registered" in refused.reason and "when_worse: register" in refused.reason
    kept = choose(y, noise, {"logistic": good}, RegistrationSettings(when_worse="register"))
    assert kept.register and kept.worse and "registered although worse" in kept.reason
    close = choose(y, good + rng.normal(0, 0.05, 2000), {"logistic": good}, RegistrationSettings())
    assert close.register and not close.worse


def test_train_says_plainly_why_nothing_was_registered(tmp_path, fast_settings, empty_store):
    config = small_table(tmp_path, 400, seed=5)
    # one stump: a model far weaker than a logistic regression of the same features
    settings = fast_settings.model_dump()
    settings["lightgbm"] |= {"n_estimators": 1, "num_leaves": 2, "max_depth": 1}
    stump = tmp_path / "stump.yaml"
    stump.write_text(yaml.safe_dump(settings))
    (tmp_path / "mlruns").mkdir()
    shutil.copy(empty_store, tmp_path / "mlruns" / "mlflow.db")  # migrated: a new, empty store
    uri = f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
    done = subprocess.run(
        [LANTERN, "train", "--tabular", str(config), "--config", str(stump)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=300,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    said = " ".join(done.stdout.split())
    assert "small_table: NOT registered: in 5-fold cross-validation" in said, said
    assert "when_worse: register" in said
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    assert not client.search_model_versions("name='small_table'")
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    (run,) = [r for r in runs if "lantern.registration" in r.data.tags]
    assert run.data.tags["lantern.registration"].startswith("NOT registered")
    assert run.info.status == "FINISHED"  # the run is kept, so the analyst can see why


def test_a_partnership_model_worse_than_the_checklist_is_logged_not_registered(
    feature_table, small_partnership, fast_settings, empty_store, tmp_path
):
    from models.tracking import get_alias, load_run_artifact_json
    from training.pipeline import log_and_register, train_outcome

    # 2,500 children: the violence model ranks the validation snapshot worse than the checklist
    result = train_outcome(
        feature_table,
        "serious_violence",
        fast_settings,
        ground_truth=small_partnership.ground_truth,
    )
    assert not result.choice.register and result.choice.baseline == "indicator_count"
    assert result.choice.metric == "auc_within_age"
    with isolated_store(empty_store, tmp_path / "mlruns") as store:
        log_and_register(feature_table, result, fast_settings, store)
        assert result.version is None and result.run_id
        assert get_alias("serious_violence", "challenger", store) is None
        card = load_run_artifact_json(result.run_id, "model_card/model_card.json", store)
        choice = load_run_artifact_json(result.run_id, "registration/choice.json", store)
    assert card["registration"]["reason"].startswith("NOT registered: on the validation data")
    assert choice["register"] is False and choice["baseline"] == "indicator_count"
    assert result.notes == [result.choice.reason]
