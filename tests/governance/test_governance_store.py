"""End to end on a real MLflow sqlite store: train both models with the pipeline, audit them,
promote them with ``lantern promote``, and find every governance document with each champion.

``exclusion_neet`` is promoted with the example partnership file, ``serious_violence`` with
none (an empty working directory), so the records show both a supplied and a missing side.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from governance_checks import BANNED, empty_fields
from mlflow import MlflowClient
from typer.testing import CliRunner

from governance.partnership import EXAMPLE_FILE, NOT_SUPPLIED
from governance.transparency import PARTNERSHIP_FIELDS, TIER_2_SECTIONS
from lantern.cli import app
from models.artifacts import (
    DATASHEET_JSON,
    DATASHEET_MD,
    FAIRNESS_ARTIFACT,
    LABEL_BIAS_JSON,
    RECORD_JSON,
    RECORD_MD,
)
from models.tracking import get_alias, load_run_artifact_json

WITH_FILE = "exclusion_neet"
WITHOUT_FILE = "serious_violence"
OUTCOMES = (WITH_FILE, WITHOUT_FILE)
DOCUMENTS = [
    "model_card/model_card.md",
    "model_card/model_card.json",
    "fairness/fairness.json",
    "fairness/fairness.html",
    FAIRNESS_ARTIFACT,
    RECORD_MD,
    RECORD_JSON,
    DATASHEET_MD,
    DATASHEET_JSON,
]


def lantern(*args: str):
    """Run ``lantern`` in this process; the result's stdout holds what it printed."""
    return CliRunner().invoke(app, list(args))


@pytest.fixture(scope="module")
def store(governance_store):
    """Both models promoted to champion by ``lantern promote`` (forced, with a reason, only
    if the small partnership's fairness audit cannot pass); the working directory is the
    store's empty folder throughout."""
    governance_store.settings.apply()
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(governance_store.folder)
        for name in OUTCOMES:
            extra = ["--partnership", str(EXAMPLE_FILE)] if name == WITH_FILE else []
            done = lantern("promote", "--model", name, *extra)
            if done.exit_code == 1 and "REFUSED" in done.stdout:
                done = lantern(
                    "promote", "--model", name, "--force", "--reason", "small test data", *extra
                )
            assert done.exit_code == 0, done.output
            assert "transparency record logged" in done.stdout
        yield governance_store.settings


def champion_run(name: str, settings) -> str:
    champion = get_alias(name, "champion", settings)
    assert champion is not None, f"{name} was not promoted"
    return champion.run_id


def artifacts(client: MlflowClient, run_id: str, path: str | None = None) -> set[str]:
    found = set()
    for item in client.list_artifacts(run_id, path):
        found |= artifacts(client, run_id, item.path) if item.is_dir else {item.path}
    return found


@pytest.mark.parametrize("name", OUTCOMES)
def test_each_champion_has_card_fairness_report_record_and_datasheet(store, name):
    client = MlflowClient(store.uri, store.uri)
    logged = artifacts(client, champion_run(name, store))
    assert [d for d in DOCUMENTS if d not in logged] == []


def test_the_violence_audit_shows_the_label_bias_check_its_run_logged(store):
    """The check from recorded data alone (police against ED) reaches the model's fairness
    report: in its JSON, its summary and its label-bias section; exclusion has no pair."""
    settings = store
    for name, expected in ((WITHOUT_FILE, 1), (WITH_FILE, 0)):
        version = get_alias(name, "champion", settings)
        doc = load_run_artifact_json(version.run_id, "fairness/fairness.json", settings)
        assert len(doc["cross_checks"]) == expected, name
        logged = load_run_artifact_json(version.run_id, LABEL_BIAS_JSON, settings)
        assert (logged is not None) == bool(expected), name
    [check] = doc_of(store, WITHOUT_FILE)["cross_checks"]
    assert check["pair"]["name"] == "police_against_health"
    assert {r["grouping"] for r in check["rows"]} == {"ethnicity", "sex", "ethnicity × sex"}
    page = html_of(store, WITHOUT_FILE)
    summary = page.split('id="summary"')[1].split("</section>")[0]
    assert "Label bias from recorded data" in summary and "police_against_health" in summary
    section = page.split('id="label_bias"')[1].split("</section>")[0]
    assert "police-recorded victims of serious violence against" in section
    assert "What this assumes" in section


def doc_of(settings, name: str) -> dict:
    run_id = champion_run(name, settings)
    return load_run_artifact_json(run_id, "fairness/fairness.json", settings)


def html_of(settings, name: str) -> str:
    version = get_alias(name, "champion", settings)
    with tempfile.TemporaryDirectory() as tmp:
        path = settings.client().download_artifacts(
            version.run_id, "fairness/fairness.html", dst_path=tmp
        )
        return Path(path).read_text()


@pytest.mark.parametrize("name", OUTCOMES)
def test_each_record_has_every_tier_2_section_filled_or_marked(store, name):
    run_id = champion_run(name, store)
    record = load_run_artifact_json(run_id, RECORD_JSON, store)
    assert record["model"]["version"] == str(get_alias(name, "champion", store).version)
    for key in TIER_2_SECTIONS:
        assert empty_fields(record["tier_2"][key]) == [], key
    expected_missing = [] if name == WITH_FILE else list(PARTNERSHIP_FIELDS)
    assert record["not_supplied"] == expected_missing
    fairness = load_run_artifact_json(run_id, FAIRNESS_ARTIFACT, store)
    assert record["model"]["fairness_audit_passed"] is fairness["passed"]
    assert record["model"]["promotion"] in ("promoted", "forced")
    assert BANNED.findall(json.dumps(record)) == []


@pytest.mark.parametrize("name", OUTCOMES)
def test_alternatives_in_the_record_are_the_runs_baselines(store, name):
    run_id = champion_run(name, store)
    metrics = MlflowClient(store.uri, store.uri).get_run(run_id).data.metrics
    record = load_run_artifact_json(run_id, RECORD_JSON, store)
    rows = {
        r["option"]: r
        for r in record["tier_2"]["description_and_rationale"]["alternatives_considered"]
    }
    for option, prefix in (
        ("Indicator-count rule", "indicator_count"),
        ("Age alone", "age_only"),
        ("Logistic regression", "logistic"),
    ):
        assert rows[option]["test AUC"].startswith(f"{metrics[prefix + '.auc']:.3f} (")
        headline = rows[option]["AUC within each year of age"]
        assert headline.startswith(f"{metrics[prefix + '.auc_within_age']:.3f} (")
        difference = metrics[f"vs.{prefix}.auc_within_age"]
        assert f"{difference:+.3f} (95% CI" in rows[option]["compared with Lantern"]


@pytest.mark.parametrize("name", OUTCOMES)
def test_each_datasheet_describes_the_runs_own_data(store, name):
    run_id = champion_run(name, store)
    sheet = load_run_artifact_json(run_id, DATASHEET_JSON, store)
    summary = load_run_artifact_json(run_id, "data_summary.json", store)
    counts = {row["part"].split()[0]: row for row in sheet["composition"]["counts"]}
    for part in ("train", "validation", "test"):
        assert counts[part]["rows"] == f"{summary[part]['rows']:,}"
    assert sheet["composition"]["synthetic"].startswith("Synthetic")
    assert sheet["maintenance"]["contact"].startswith(NOT_SUPPLIED), "trained with no file"


def test_lantern_record_prints_the_tier_2_headings(store):
    done = lantern("record", "--model", WITHOUT_FILE)
    assert done.exit_code == 0, done.output
    for heading in TIER_2_SECTIONS.values():
        assert f"## {heading}\n" in done.stdout
    assert "## Tier 1: overview" in done.stdout
    assert f"{NOT_SUPPLIED}: add `contact_email`" in done.stdout


def test_lantern_record_writes_json_to_a_file(store, tmp_path):
    out = tmp_path / "record.json"
    done = lantern(
        "record",
        "--model",
        WITH_FILE,
        "--format",
        "json",
        "--out",
        str(out),
        "--partnership",
        str(EXAMPLE_FILE),
    )
    assert done.exit_code == 0, done.output
    record = json.loads(out.read_text())
    assert list(record["tier_2"]) == list(TIER_2_SECTIONS)
    assert record["not_supplied"] == []
    assert done.stdout == ""


def test_lantern_record_log_relogs_a_given_version(store, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    version = str(get_alias(WITHOUT_FILE, "champion", store).version)
    run_id = champion_run(WITHOUT_FILE, store)
    args = ["record", "--model", WITHOUT_FILE, "--version", version, "--log"]
    try:
        done = lantern(*args, "--partnership", str(EXAMPLE_FILE))
        assert done.exit_code == 0, done.output
        assert load_run_artifact_json(run_id, RECORD_JSON, store)["not_supplied"] == []
    finally:
        assert lantern(*args).exit_code == 0  # back as it was: no partnership file
    assert load_run_artifact_json(run_id, RECORD_JSON, store)["not_supplied"] == list(
        PARTNERSHIP_FIELDS
    )


def test_lantern_record_errors_say_what_to_do(store, tmp_path):
    done = lantern("record", "--model", "no_such_model")
    assert done.exit_code == 1
    assert "no_such_model has no champion: promote one" in done.stdout
    done = lantern("record", "--model", WITHOUT_FILE, "--partnership", str(tmp_path / "p.yaml"))
    assert done.exit_code == 2
    assert "does not exist; copy governance/partnership.example.yaml" in done.stdout
