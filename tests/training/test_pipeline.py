"""Training one outcome's model on a small synthetic partnership, and logging it to a real
MLflow store: metrics, oracle, determinism, the model's arithmetic, artifacts, registration."""

from __future__ import annotations

import json
import math
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from training_fixtures import isolated_store

from features.build import AUDIT_COLUMNS, label_column
from features.registry import default_registry
from governance.datasheet import log_datasheet
from governance.partnership import PartnershipSettings
from models.artifacts import (
    DATA_PROFILE,
    DATASHEET_JSON,
    DATASHEET_MD,
    LABEL_ROWS,
    TEST_ROWS,
)
from models.scoring import ScoringModel, as_matrix
from models.tracking import get_alias, load_run_artifact_json
from models.versions import find_version, load_version
from training.config import FeatureSetSettings
from training.metrics import METRICS
from training.pipeline import log_and_register, scored_test_rows, train_outcome

OUTCOMES = ("exclusion_neet", "serious_violence")
SENSITIVE = sorted(name for name, spec in default_registry().items() if spec.sensitive)
MITCHELL_SECTIONS = (
    "model_details",
    "intended_use",
    "out_of_scope_uses",
    "factors",
    "metrics",
    "evaluation_data",
    "training_data",
    "quantitative_analyses",
    "ethical_considerations",
    "caveats_and_recommendations",
)


@pytest.fixture(scope="module")
def trained(feature_table, small_partnership, fast_settings):
    """Both outcomes' models, trained once with the ground truth beside them."""
    return {
        outcome: train_outcome(
            feature_table, outcome, fast_settings, ground_truth=small_partnership.ground_truth
        )
        for outcome in OUTCOMES
    }


@pytest.fixture(scope="module")
def held_out_matrix(feature_table, trained):
    """The serious-violence model's test rows as its input matrix."""
    result = trained["serious_violence"]
    return as_matrix(feature_table.iloc[result.split.test], result.model.features)


@pytest.mark.parametrize("outcome", OUTCOMES)
def test_model_ranks_better_than_chance_and_baselines_are_scored(trained, outcome):
    metrics = trained[outcome].evaluation.metrics
    assert set(metrics) == {"lantern", "indicator_count", "age_only", "logistic", "oracle"}
    assert metrics["lantern"].point["auc"] > 0.6
    assert metrics["lantern"].point["auc_within_age"] > 0.6
    for name in ("indicator_count", "logistic", "oracle"):
        assert metrics[name].point["auc"] > 0.55, name  # sane baselines, not noise
    # age alone ranks by age and nothing else: exactly 0.5 on the headline
    assert metrics["age_only"].point["auc_within_age"] == pytest.approx(0.5, abs=1e-12)
    # the interval says the model is better than chance, not just the point
    assert metrics["lantern"].low["auc"] > 0.5
    assert metrics["lantern"].n_boot == 20


@pytest.mark.parametrize("outcome", OUTCOMES)
def test_intervals_contain_the_point_and_ece_is_finite(trained, outcome):
    metrics = trained[outcome].evaluation.metrics
    for name, summary in metrics.items():
        assert set(summary.point) == set(METRICS)
        for key, point in summary.point.items():
            if key == "ece" or not math.isfinite(point):
                continue  # ECE's bootstrap is biased upwards: its interval may sit above it
            assert summary.low[key] <= point <= summary.high[key], (name, key)
    for name in ("lantern", "logistic", "oracle"):  # probabilities: calibration is defined
        assert math.isfinite(metrics[name].point["ece"]) and metrics[name].point["ece"] >= 0
        assert math.isfinite(metrics[name].low["ece"]) and math.isfinite(metrics[name].high["ece"])


def test_oracle_is_the_generators_probability(trained, small_partnership, feature_table):
    result = trained["exclusion_neet"]
    truth = small_partnership.ground_truth
    at = truth[truth["anchor_date"] == result.split.test_date].set_index("child_id")
    children = feature_table["child_id"].iloc[result.split.test]
    np.testing.assert_array_equal(
        result.evaluation.scores["oracle"], at.loc[children, "p_recorded_exclusion_neet"]
    )
    np.testing.assert_array_equal(
        result.evaluation.true_label, at.loc[children, "y_true_exclusion_neet"].astype(int)
    )
    # the recorded outcome is the label; the true one differs only through recording
    assert (
        result.evaluation.y.tolist()
        == feature_table[label_column("exclusion_neet")]
        .iloc[result.split.test]
        .astype(int)
        .tolist()
    )


def test_no_oracle_when_it_does_not_apply(feature_table, small_partnership, fast_settings):
    result = train_outcome(
        feature_table,
        "serious_violence",
        fast_settings,
        ground_truth=small_partnership.ground_truth,
        oracle_applies=False,
    )
    assert "oracle" not in result.evaluation.metrics
    assert "oracle" not in result.evaluation.scores
    assert "oracle" not in result.evaluation.comparisons
    assert result.evaluation.true_label is None
    assert result.summary_row()["oracle AUC"] == "-"
    without_truth = train_outcome(feature_table, "serious_violence", fast_settings)
    assert "oracle" not in without_truth.evaluation.metrics


@pytest.mark.parametrize("outcome", OUTCOMES)
def test_every_comparison_is_a_paired_difference_on_the_headline(trained, outcome):
    e = trained[outcome].evaluation
    assert e.headline == "auc_within_age"
    assert set(e.comparisons) == {"indicator_count", "age_only", "logistic", "oracle"}
    for name, d in e.comparisons.items():
        ours, theirs = ("oracle", "lantern") if name == "oracle" else ("lantern", name)
        expected = e.metrics[ours].point[d.metric] - e.metrics[theirs].point[d.metric]
        assert d.metric == "auc_within_age" and d.point == pytest.approx(expected)
        assert d.low <= d.point <= d.high
        assert d.reading in ("higher", "lower", "within noise")
    row = trained[outcome].summary_row()
    assert row["AUC within age (95% CI)"] == e.metrics["lantern"].format("auc_within_age")
    assert row["oracle AUC"] == f"{e.metrics['oracle'].point['auc_within_age']:.3f}"
    shown = {r["comparison"]: r for r in trained[outcome].comparison_rows()}
    age = shown["Lantern − age alone"]
    assert age["difference (95% CI)"] == e.comparisons["age_only"].format()
    assert age["reading"] == e.comparisons["age_only"].reading


@pytest.mark.parametrize("outcome", OUTCOMES)
def test_figures_are_given_by_age_band_on_the_eligible_population(trained, outcome):
    e = trained[outcome].evaluation
    assert list(e.bands) == ["10-13", "14-15", "16-17"]
    sizes = [bands["lantern"].point["n"] for bands in e.bands.values()]
    assert sum(sizes) == len(e.rows) == len(e.y)
    for band, summaries in e.bands.items():
        low, high = (int(a) for a in band.split("-"))
        assert set(summaries) == set(e.metrics)
        assert summaries["lantern"].point["n"] == ((e.ages >= low) & (e.ages <= high)).sum()
    assert "NEET: ages 16-17" in e.population or outcome == "serious_violence"


def test_same_settings_give_the_same_model_and_metrics(trained, feature_table, fast_settings):
    first = trained["serious_violence"]
    again = train_outcome(feature_table, "serious_violence", fast_settings)
    assert again.model.booster.dump_model() == first.model.booster.dump_model()
    assert (again.model.slope, again.model.intercept) == (first.model.slope, first.model.intercept)
    for name, summary in again.evaluation.metrics.items():
        reference = first.evaluation.metrics[name]
        for part in ("point", "low", "high"):
            np.testing.assert_array_equal(
                list(getattr(summary, part).values()), list(getattr(reference, part).values())
            )
    # a different seed gives a different model: the comparison above can tell them apart
    reseeded = train_outcome(
        feature_table, "serious_violence", fast_settings.model_copy(update={"seed": 8})
    )
    assert reseeded.model.booster.dump_model() != first.model.booster.dump_model()


def test_contributions_add_up_to_the_margin(trained, held_out_matrix):
    model = trained["serious_violence"].model
    contributions = model.contributions(held_out_matrix)
    assert contributions.shape == (len(held_out_matrix), len(model.features) + 1)  # + base value
    np.testing.assert_allclose(contributions.sum(axis=1), model.margin(held_out_matrix), atol=1e-9)


def test_probability_is_platt_scaled_margin(trained, held_out_matrix):
    model = trained["serious_violence"].model
    expected = 1 / (1 + np.exp(-(model.slope * model.margin(held_out_matrix) + model.intercept)))
    np.testing.assert_allclose(model.predict_proba(held_out_matrix), expected, rtol=0, atol=1e-15)
    assert model.slope > 0  # a higher margin means a higher risk
    np.testing.assert_allclose(
        model.predict_proba(held_out_matrix),
        trained["serious_violence"].evaluation.scores["lantern"],
    )


def test_saved_model_predicts_identically(trained, held_out_matrix, tmp_path):
    model = trained["serious_violence"].model
    loaded = ScoringModel.load(model.save(tmp_path / "scoring"))
    assert loaded.features == model.features and loaded.outcome == model.outcome
    assert (loaded.slope, loaded.intercept) == (model.slope, model.intercept)
    np.testing.assert_array_equal(
        loaded.predict_proba(held_out_matrix), model.predict_proba(held_out_matrix)
    )


def test_no_protected_characteristic_is_a_feature(trained, feature_table):
    for result in trained.values():
        features = set(result.model.features)
        assert not features & set(AUDIT_COLUMNS)
        assert not set(result.model.booster.feature_name()) & {"sex", "ethnicity", "send", "area"}
        assert result.model.booster.feature_name() == result.model.features
        assert not any(c.startswith("label_") for c in features)
    assert set(AUDIT_COLUMNS) <= set(feature_table)  # kept beside the data for the audit


def test_sensitive_features_need_a_justification(trained, feature_table, fast_settings):
    justified = fast_settings.features.sensitive
    assert sorted(justified) == SENSITIVE  # the package justifies each one it uses
    assert set(SENSITIVE) <= set(trained["serious_violence"].model.features)
    unjustified = fast_settings.model_copy(
        update={"features": FeatureSetSettings(exclude=[], sensitive={})}
    )
    result = train_outcome(feature_table, "serious_violence", unjustified)
    assert not set(SENSITIVE) & set(result.model.features)
    assert set(result.model.features) == set(trained["serious_violence"].model.features) - set(
        SENSITIVE
    )
    one = fast_settings.model_copy(
        update={"features": FeatureSetSettings(sensitive={"ehcp": justified["ehcp"]})}
    )
    assert set(one.features.select(default_registry())) & set(SENSITIVE) == {"ehcp"}


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("shoe_size", "the registry does not have"),
        ("attendance_12m", "are not sensitive features"),
    ],
)
def test_a_bad_justification_is_an_error_naming_the_feature(
    feature_table, fast_settings, name, words
):
    settings = fast_settings.model_copy(
        update={"features": FeatureSetSettings(sensitive={name: "because"})}
    )
    with pytest.raises(ValueError, match=words) as caught:
        train_outcome(feature_table, "serious_violence", settings)
    assert name in str(caught.value)


# --------------------------------------------------------------------------- logged to MLflow


NOT_USED = "area_free_school_meals"
"""A feature the logged model is trained without."""


@pytest.fixture(scope="module")
def logged(feature_table, small_partnership, fast_settings, empty_store, tmp_path_factory):
    """A serious-violence model (all features but one) logged and registered in a fresh
    store; its artifacts."""
    settings = fast_settings.model_copy(
        update={"features": fast_settings.features.model_copy(update={"exclude": [NOT_USED]})}
    )
    trained = train_outcome(
        feature_table, "serious_violence", settings, ground_truth=small_partnership.ground_truth
    )
    assert NOT_USED not in trained.model.features
    folder = tmp_path_factory.mktemp("logged")
    with isolated_store(empty_store, folder / "store") as store:
        result = log_and_register(feature_table, trained, settings, store)
        artifacts = Path(
            mlflow.artifacts.download_artifacts(
                run_id=result.run_id, dst_path=str(folder / "artifacts")
            )
        )
        yield result, store, artifacts


def test_log_and_register_writes_the_artifacts(logged):
    result, _, artifacts = logged
    for path in (
        "data_summary.json",
        "model_card/model_card.md",
        "model_card/model_card.json",
        "evaluation/reliability.png",
        "evaluation/shap_beeswarm.png",
        "evaluation/shap_bar.png",
        TEST_ROWS,
        DATA_PROFILE,
    ):
        assert (artifacts / path).is_file(), path
    for png in ("reliability", "shap_beeswarm", "shap_bar"):
        assert (artifacts / f"evaluation/{png}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = json.loads((artifacts / "data_summary.json").read_text())
    assert summary["outcome"] == "serious_violence"
    assert [f["name"] for f in summary["features"]] == result.model.features
    assert summary["test"]["rows"] == len(result.split.test)
    assert summary["split"] == result.split.describe()
    profile = json.loads((artifacts / DATA_PROFILE).read_text())
    assert profile["ground_truth"] is True and profile["profile"]["rows"] > 0
    assert set(profile["profile"]["missing"]) == set(result.model.features)


def test_governance_writes_the_datasheet_from_the_runs_facts_and_refuses_other_runs(logged):
    result, store, _ = logged
    facts = PartnershipSettings()
    assert log_datasheet(result.run_id, store, facts) == [DATASHEET_MD, DATASHEET_JSON]
    sheet = load_run_artifact_json(result.run_id, DATASHEET_JSON, store)
    groups = {row["audit column"] for row in sheet["composition"]["group_composition"]}
    assert {"ethnicity", "send", "sex"} <= groups, groups
    other = store.client().create_run(store.client().get_run(result.run_id).info.experiment_id)
    with pytest.raises(ValueError, match="has no data_summary.json or data_profile.json"):
        log_datasheet(other.info.run_id, store, facts)


def test_a_version_is_found_by_number_or_alias_and_a_missing_one_is_explained(logged):
    result, store, _ = logged
    by_alias = load_version("serious_violence", "challenger", store)
    by_number = load_version("serious_violence", result.version, store)
    assert by_alias.number == by_number.number == result.version
    assert by_number.run_id == result.run_id
    assert by_number.model.features == result.model.features
    with pytest.raises(LookupError, match="serious_violence has no version 99: give a"):
        find_version("serious_violence", "99", store)
    with pytest.raises(LookupError, match="serious_violence has no champion: promote one"):
        find_version("serious_violence", "champion", store)


def test_model_card_has_every_section(logged):
    _, _, artifacts = logged
    card = json.loads((artifacts / "model_card/model_card.json").read_text())
    missing = [s for s in MITCHELL_SECTIONS if s not in card]
    assert not missing
    assert set(card["quantitative_analyses"]) == {
        "lantern",
        "indicator_count",
        "age_only",
        "logistic",
        "oracle",
    }
    assert card["metrics"]["headline"] == "AUC within age"
    assert set(card["comparisons"]) == {
        "Lantern − indicator-count checklist",
        "Lantern − age alone",
        "Lantern − logistic regression",
        "oracle − Lantern",
    }
    assert list(card["by_age_band"]) == ["10-13", "14-15", "16-17"]
    assert set(card["sensitive_features"]) == set(SENSITIVE)
    markdown = (artifacts / "model_card/model_card.md").read_text()
    for heading in ("Model details", "Intended use", "Ethical considerations", "Caveats"):
        assert f"## {heading}" in markdown
    assert "### Paired differences on the headline (AUC within age)" in markdown
    assert "### By age band" in markdown
    assert "Model card: serious_violence" in markdown


def test_the_card_lists_each_features_direction_and_the_check_of_its_test_children(logged):
    result, _, artifacts = logged
    card = json.loads((artifacts / "model_card/model_card.json").read_text())
    features = {f["name"]: f for f in card["features"]}
    assert features["attendance_12m"]["direction"] == "protective"
    assert features["attendance_12m"]["constrained"] is True
    assert features["age_years"]["direction"] == "either"
    assert features["age_years"]["constrained"] is False
    assert all(f["why"] for f in card["features"])
    assert card["directions"]["method"] == "basic" and card["directions"]["contrary"] == []
    assert {r["feature"] for r in card["directions"]["features"]} == set(result.model.features)
    markdown = (artifacts / "model_card/model_card.md").read_text()
    kept = sum(f["constrained"] for f in card["features"])
    assert f"{kept} of {len(card['features'])} features are kept to the direction" in markdown
    assert "their declared direction over the test children: none." in markdown
    assert "| protective (kept to it) |" in markdown and "| either (free) |" in markdown


def test_logged_test_rows_are_the_test_set(logged, feature_table):
    result, _, artifacts = logged
    rows = pd.read_parquet(artifacts / TEST_ROWS)
    test = feature_table.iloc[result.split.test]
    assert "child_id" not in rows, "a logged row carries a row key, never a child's id"
    keys, ids = rows["row_key"], test["child_id"].astype(str)
    # one key per child: the same child's rows share it, different children's differ
    assert keys.groupby(ids.to_numpy()).nunique().eq(1).all()
    assert keys.nunique() == ids.nunique()
    assert not set(keys) & set(ids) and not any(i in k for k in set(keys) for i in set(ids[:50]))
    label_rows = pd.read_parquet(artifacts / LABEL_ROWS)
    assert "child_id" not in label_rows and set(keys) <= set(label_rows["row_key"])
    label = label_column("serious_violence")
    np.testing.assert_array_equal(rows[label], test[label])
    np.testing.assert_array_equal(rows["score_lantern"], result.evaluation.scores["lantern"])
    assert {"score_indicator_count", "score_logistic", "score_oracle", "true_label"} <= set(rows)
    assert set(AUDIT_COLUMNS) <= set(rows)
    # every feature, not only the model's, so that a champion using others can be scored
    assert set(default_registry()) <= set(rows) and NOT_USED in rows
    assert label_column("exclusion_neet") not in rows


def test_registered_version_is_a_finished_challenger(logged):
    result, store, _ = logged
    version = get_alias("serious_violence", "challenger", store)
    assert version is not None and str(version.version) == result.version == "1"
    assert version.run_id == result.run_id
    assert version.tags["lantern.test_date"] == "2025-09-01"
    assert float(version.tags["lantern.auc"]) == pytest.approx(
        result.evaluation.metrics["lantern"].point["auc"], abs=1e-4
    )
    run = store.client().get_run(result.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.metrics["auc"] == result.evaluation.metrics["lantern"].point["auc"]
    assert "oracle.auc" in run.data.metrics and "logistic.auc" in run.data.metrics
    assert run.data.params["test_date"] == "2025-09-01"


def test_registered_model_has_signature_and_example(logged):
    result, store, _ = logged
    store.apply()
    info = mlflow.models.get_model_info(f"models:/serious_violence/{result.version}")
    assert info.signature is not None
    assert info.signature.inputs.input_names() == result.model.features
    assert info.signature.outputs.input_names() == ["probability"]
    assert info.saved_input_example_info is not None
    example = mlflow.pyfunc.load_model(f"models:/serious_violence/{result.version}").input_example
    assert list(example.columns) == result.model.features and len(example) == 5


def test_pyfunc_gives_the_scoring_models_probabilities(logged, feature_table):
    result, store, _ = logged
    store.apply()
    pyfunc = mlflow.pyfunc.load_model("models:/serious_violence@challenger")
    test = feature_table.iloc[result.split.test][result.model.features].astype(float)
    predicted = pyfunc.predict(test)
    assert list(predicted.columns) == ["probability"]
    np.testing.assert_allclose(
        predicted["probability"].to_numpy(), result.evaluation.scores["lantern"], rtol=0, atol=1e-12
    )


def test_the_model_store_holds_no_childs_id(logged, feature_table):
    """Every file a training run leaves in the MLflow store (its database, the run's and the
    logged model's artifacts), searched for the ids of the children it trained on."""
    import re

    import pyarrow as pa
    import pyarrow.parquet as pq

    _, store, _ = logged
    ids = set(feature_table["child_id"].astype(str))
    root = Path(store.uri.removeprefix("sqlite:///")).parent
    pattern = re.compile(rb"C\d{7}")
    found: dict[str, set[str]] = {}
    for path in root.rglob("*"):
        if not path.is_file() or path.suffix == ".png":
            continue
        if path.suffix == ".parquet":  # compressed: read its text columns
            schema = pq.read_schema(path)
            text = [
                f.name
                for f in schema
                if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
            ]
            values = pq.read_table(path, columns=text).to_pandas().to_numpy().ravel()
            hits = set(re.findall(r"C\d{7}", " ".join(map(str, values))))
        else:  # SQLite keeps text as it is, so the database is searched as bytes too
            hits = {h.decode() for h in pattern.findall(path.read_bytes())}
        if hits & ids:
            found[str(path.relative_to(root))] = hits & ids
    assert found == {}, f"children's ids in the model store: {found}"
    assert any(root.rglob("test_rows.parquet")), "the search reached the logged rows"


def test_the_audit_reports_age_bands_and_the_gate_does_not_judge_them(trained, feature_table):
    from fairness import FairnessPolicy
    from training.fairness_audit import audit_test_rows

    result = trained["exclusion_neet"]
    audited = audit_test_rows(
        scored_test_rows(feature_table, result),
        "exclusion_neet",
        recording_rows=result.evaluation.label_rows,
        n_boot=30,
    )
    bands = audited.grouping("age_band")
    assert {g for g in audited.groups.loc[audited.groups["grouping"] == "age_band", "group"]} == {
        "10-13",
        "14-15",
        "16-17",
    }
    assert bands.reference == "10-13"  # the largest band
    assert "age_band" not in FairnessPolicy.assistive().groupings()
