"""The overview end to end: champions read from a real MLflow store, ``lantern overview``,
and the page in headless Chromium.

The session's store (``governance_store``) is copied, and both models' challengers are made
champion in the copy only, so that the other governance tests see the store as they left it.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
from governance_fixtures import restored_mlflow_uris
from typer.testing import CliRunner

from fairness.snapshot import CHROMIUM, CHROMIUM_ARGS
from fairness.threshold import operating_point
from governance.overview_result import SCHEMA
from lantern.cli import app
from models.scoring import as_matrix
from models.tracking import TrackingSettings, get_alias

OUTCOMES = ("exclusion_neet", "serious_violence")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


@pytest.fixture(scope="module")
def store(governance_store, tmp_path_factory):
    """A copy of the session's store with each model's challenger as champion; MLflow's
    global URIs and the variables it exports are put back afterwards."""
    source = Path(governance_store.settings.uri.removeprefix("sqlite:///"))
    folder = tmp_path_factory.mktemp("overview_store")
    shutil.copy(source, folder / "mlflow.db")
    settings = TrackingSettings(
        uri=f"sqlite:///{folder}/mlflow.db",
        artifact_root=governance_store.settings.artifact_root,
    )
    with restored_mlflow_uris():
        client = settings.client()
        for name in OUTCOMES:
            version = get_alias(name, "challenger", settings).version
            client.set_registered_model_alias(name, "champion", str(version))
        yield settings


@pytest.fixture(scope="module")
def features_file(governance_table, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("overview_features") / "features.parquet"
    governance_table.to_parquet(path, index=False)
    return path


@pytest.fixture(scope="module")
def written(store, features_file, tmp_path_factory):
    """``lantern overview`` run once: its result, the page's path and the JSON document."""
    folder = tmp_path_factory.mktemp("overview_out")
    out, data = folder / "overview.html", folder / "overview.json"
    store.apply()
    done = CliRunner().invoke(
        app, ["overview", "--features", str(features_file), "--out", str(out), "--json", str(data)]
    )
    assert done.exit_code == 0, done.output
    return done, out, json.loads(data.read_text())


def test_lantern_overview_writes_the_page_and_json(written):
    done, out, document = written
    assert "alert(s) need a query" in done.output
    assert document["schema"] == SCHEMA
    assert [m["model"] for m in document["models"]] == list(OUTCOMES)
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>") and f"Model: {OUTCOMES[1]}" in page


def test_every_snapshot_is_scored_by_each_champion(written, store, governance_table):
    import mlflow.pyfunc

    document = written[2]
    models = {m["model"]: m for m in document["models"]}
    latest = governance_table[
        governance_table["snapshot_date"] == governance_table["snapshot_date"].max()
    ]
    for name in OUTCOMES:
        champion = get_alias(name, "champion", store)
        info = models[name]
        assert info["source"] == f"{name} v{champion.version} (champion), run {champion.run_id}"
        assert info["capacity"] == 0.02, "the share the champion was trained at"
        snapshots = [s for s in document["snapshots"] if s["model"] == name]
        assert len(snapshots) == 9, "the latest snapshot and the 8 quarters before it"
        assert all(s["flagged"] == math.ceil(0.02 * s["children"] - 1e-9) for s in snapshots)
        # Who is flagged follows the champion's own scores, loaded through MLflow.
        model = mlflow.pyfunc.load_model(f"models:/{name}/{champion.version}")
        scoring = model.unwrap_python_model().model
        top, _ = operating_point(
            scoring.predict_proba(as_matrix(latest, scoring.features)), top_k=0.02
        )
        sex = [
            g
            for g in document["groups"]
            if g["model"] == name
            and g["grouping"] == "sex"
            and g["snapshot_date"] == info["latest_snapshot"]
            and g["flag_reason"] is None
        ]
        assert sex
        for g in sex:
            assert g["flagged"] == int((top & (latest["sex"] == g["group"]).to_numpy()).sum())


def test_each_champions_fairness_audit_is_read(written, store):
    document = written[2]
    models = {m["model"]: m for m in document["models"]}
    for name in OUTCOMES:
        version = get_alias(name, "champion", store).version
        assert models[name]["audit_title"] == f"Fairness audit: {name} v{version}"
        assert models[name]["audit_true_outcomes"], "synthetic data: the audit had true outcomes"
        recording = [
            a for a in document["audit"] if a["model"] == name and a["kind"] == "recording"
        ]
        assert {a["grouping"] for a in recording} >= {"ethnicity", "send", "sex"}


def test_lantern_overview_says_what_to_do_when_something_is_missing(store, features_file, tmp_path):
    missing = CliRunner().invoke(app, ["overview", "--features", str(tmp_path / "no.parquet")])
    assert missing.exit_code == 2
    assert "does not exist; build one with `lantern features`" in missing.output
    # Another copy of the store, in which no model has a champion.
    shutil.copy(store.uri.removeprefix("sqlite:///"), tmp_path / "mlflow.db")
    bare = TrackingSettings(uri=f"sqlite:///{tmp_path}/mlflow.db", artifact_root=tmp_path / "a")
    for name in OUTCOMES:
        bare.client().delete_registered_model_alias(name, "champion")
    bare.apply()
    try:
        no_champion = CliRunner().invoke(
            app, ["overview", "--features", str(features_file), "--out", str(tmp_path / "o.html")]
        )
    finally:
        store.apply()
    assert no_champion.exit_code == 1
    assert "has a champion: train, audit and promote one first" in no_champion.output
    assert not (tmp_path / "o.html").exists()


@pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="no /usr/bin/chromium: install it with `make browser` (apt-get install chromium)",
)
def test_the_page_renders_in_headless_chromium_without_errors(written):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    page_file = written[1]
    problems, requests = [], []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(page_file.as_uri(), wait_until="load")
            headings = page.locator("h2").all_inner_texts()
            images = page.evaluate(
                "Array.from(document.images).map(i => i.complete && i.naturalWidth > 0)"
            )
            page.locator("details").first.evaluate("d => d.open = true")
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "overview.png"), full_page=True)
        finally:
            browser.close()
    assert problems == []
    assert headings[:2] == ["What needs a query", "Standing differences"]
    assert [h for h in headings if h.startswith("Model: ")] == [f"Model: {m}" for m in OUTCOMES]
    assert images and all(images)
    assert all(url.startswith(("file:", "data:")) for url in requests)
    assert (ARTIFACTS / "overview.png").stat().st_size > 10_000
