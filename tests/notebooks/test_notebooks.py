"""The analyst's and the ethics board's notebooks: stored clean, executed on a real store.

The retrain notebook runs first, on a new store: it forces a first champion for each model
(the small partnership is too small for the audit to pass), then retrains on the next
quarter, compares, reports drift, audits and asks the gate. The board notebook then reads the
champion it left. Each assertion checks the notebook's printed output against what the store
holds.
"""

from __future__ import annotations

import base64
import json
import re
import sys

import nbformat
import pytest
from notebook_runs import (
    BOARD_MODEL,
    FIRST_CHAMPION_REASON,
    MODELS,
    NOTEBOOKS,
    kernel_manager,
    outputs,
    parameters_cell,
)

from fairness import AuditResult
from governance.transparency import render_markdown
from models.artifacts import FAIRNESS_ARTIFACT, FAIRNESS_REPORT_JSON, RECORD_JSON, RECORD_MD
from training.compare import compare
from training.drift import reading
from training.promotion import DECISION_TAG, GATES_TAG, REASON_TAG
from models.tracking import CHAMPION, get_alias, load_run_artifact_json

EXPECTED = {"quarterly_retrain.ipynb", "ethics_board_review.ipynb"}
BANNED = re.compile(
    r"\bgangs?\b|\boffenders?\b|\bsubjects?\b|\bperpetrators?\b|\bchooses? to\b"
    r"|putting themselves at risk|\blifestyle\b|\bstreetwise\b|\bpromiscuous\b",
    re.IGNORECASE,
)
"""Words and phrases Lantern never uses about children (as in tests/governance)."""
PNG = b"\x89PNG\r\n\x1a\n"


# --------------------------------------------------------------------------- stored notebooks


def test_every_notebook_is_stored_without_outputs():
    paths = sorted(NOTEBOOKS.glob("*.ipynb"))
    assert EXPECTED <= {p.name for p in paths}
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        dirty = [
            i
            for i, cell in enumerate(nb.cells)
            if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)
        ]
        assert dirty == [], f"{path.name}: cells {dirty} keep outputs; clear them before committing"
        assert parameters_cell(nb).cell_type == "code"
        assert nb.metadata.kernelspec.name == "python3"


def test_notebooks_use_plain_respectful_words():
    for name in EXPECTED:
        nb = nbformat.read(NOTEBOOKS / name, as_version=4)
        text = "\n".join(cell.source for cell in nb.cells)
        assert BANNED.findall(text) == [], name


def test_the_kernel_runs_this_virtualenvs_python(notebook_kernels):
    assert kernel_manager(notebook_kernels).kernel_spec.argv[0] == sys.executable


# --------------------------------------------------------------------------- the analyst's quarter


def test_retrain_establishes_a_first_champion_for_each_model(retrain_run):
    text = "".join(outputs(retrain_run.notebook))
    client = retrain_run.settings.client()
    for name in MODELS:
        assert f"{name}: no champion yet" in text
        first = client.get_model_version(name, "1")
        decision = first.tags[DECISION_TAG]
        assert decision in ("promoted", "forced")
        assert f"{name} v1: {decision.upper()} (first champion)" in text
        if decision == "forced":
            assert first.tags[REASON_TAG] == FIRST_CHAMPION_REASON
            assert f"forced because: {FIRST_CHAMPION_REASON}" in text
        # promotion logged the transparency record with the version
        record = load_run_artifact_json(first.run_id, RECORD_JSON, retrain_run.settings)
        model = record["model"]
        assert (model["name"], model["version"], model["promotion"]) == (name, "1", decision)


def test_retrain_compares_the_next_quarter_and_reports_drift(retrain_run):
    settings = retrain_run.settings
    client = settings.client()
    text = "".join(outputs(retrain_run.notebook))
    assert f"seed-{retrain_run.parameters['seed'] + 1}" in text  # the next quarter's extracts
    assert "ground truth: yes (synthetic)" in text
    for name in MODELS:
        challenger = client.get_model_version(name, "2")
        report = load_run_artifact_json(challenger.run_id, "retrain/report.json", settings)
        assert (report["challenger_version"], report["champion_version"]) == ("2", "1")
        assert f"{name}: challenger v2 against champion v1" in text
        assert report["drift"], "drift is reported for every feature"
        for row in report["drift"]:
            assert row["reading"] == reading(row["psi"])
        rate = report["base_rate"]
        assert rate["change_points"] == pytest.approx(100 * (rate["current"] - rate["reference"]))
        assert f"{name}: base rate {rate['reference']:.2%} at the champion's test" in text
        if str(get_alias(name, CHAMPION, settings).version) == "1":
            # the logged comparison is the one the gate can make again on the same rows
            again = compare(name, settings)
            assert again.challenger == pytest.approx(report["challenger"], nan_ok=True)
            assert again.champion == pytest.approx(report["champion"], nan_ok=True)


def test_retrain_audits_and_puts_each_challenger_to_the_gate(retrain_run):
    settings = retrain_run.settings
    client = settings.client()
    text = "".join(outputs(retrain_run.notebook))
    for name in MODELS:
        challenger = client.get_model_version(name, "2")
        verdict = load_run_artifact_json(challenger.run_id, FAIRNESS_ARTIFACT, settings)
        assert verdict["version"] == "2"
        assert (
            AuditResult.from_dict(
                load_run_artifact_json(challenger.run_id, FAIRNESS_REPORT_JSON, settings)
            ).n
            > 0
        )
        state = "passed" if verdict["passed"] else "did not pass"
        assert f"{name} v2: the fairness audit {state}" in text
        decision = challenger.tags[DECISION_TAG]
        gates = json.loads(challenger.tags[GATES_TAG])
        assert decision == ("promoted" if all(g["passed"] for g in gates) else "refused")
        fairness = next(g for g in gates if g["name"] == "fairness")
        assert fairness["passed"] == verdict["passed"]
        promoted = decision == "promoted"
        assert str(get_alias(name, CHAMPION, settings).version) == ("2" if promoted else "1")
        # the decision, with every gate's reason, is what the analyst read
        assert (
            f"{name} v2: {decision.upper()} (champion {'was' if promoted else 'stays'} v1)" in text
        )
        for gate in gates:
            assert gate["reason"] in text
        # only a promoted version gets a transparency record
        record = load_run_artifact_json(challenger.run_id, RECORD_JSON, settings)
        assert (record is not None) == promoted


def test_retrain_shows_the_record_of_the_version_that_serves(retrain_run):
    settings = retrain_run.settings
    markdown = outputs(retrain_run.notebook, "text/markdown")
    for name in MODELS:
        champion = get_alias(name, CHAMPION, settings)
        record = load_run_artifact_json(champion.run_id, RECORD_JSON, settings)
        logged = settings.client().download_artifacts(champion.run_id, RECORD_MD)
        shown = render_markdown(record)
        assert shown in markdown
        assert open(logged, encoding="utf-8").read() == shown
        assert shown.startswith(f"# Algorithmic transparency record: {name} v{champion.version}")


# --------------------------------------------------------------------------- the board's review


def test_board_review_reads_the_champions_verdict(retrain_run, board_run):
    settings = retrain_run.settings
    champion = get_alias(BOARD_MODEL, CHAMPION, settings)
    text = "".join(outputs(board_run.notebook))
    assert f"{BOARD_MODEL} version {champion.version} (champion)" in text
    assert f"Promotion decision: {champion.tags[DECISION_TAG]}" in text
    verdict = load_run_artifact_json(champion.run_id, FAIRNESS_ARTIFACT, settings)
    for reason in verdict["reasons"]:
        assert reason in text
    if REASON_TAG in champion.tags:
        assert champion.tags[REASON_TAG] in text


def test_board_review_shows_the_fairness_plots(retrain_run, board_run):
    champion = get_alias(BOARD_MODEL, CHAMPION, retrain_run.settings)
    document = load_run_artifact_json(champion.run_id, FAIRNESS_REPORT_JSON, retrain_run.settings)
    single = [g for g in document["groupings"] if len(g["columns"]) == 1]
    pngs = [base64.b64decode(p) for p in outputs(board_run.notebook, "image/png")]
    assert all(p.startswith(PNG) for p in pngs)
    # disparity per grouping, who is flagged (ethnicity), calibration (ethnicity and SEND),
    # and the indicator-count rule's disparity (ethnicity and SEND) when the audit has it
    assert len(pngs) == len(single) + 1 + 2 + (2 if document["baseline"] else 0)
    text = "".join(outputs(board_run.notebook))
    if document["true_label"]:
        assert "recording disparity" in "".join(outputs(board_run.notebook, "text/plain"))
    assert f"{document['n']:,} children;" in text


def test_board_review_shows_the_card_and_the_record_with_missing_facts(retrain_run, board_run):
    settings = retrain_run.settings
    champion = get_alias(BOARD_MODEL, CHAMPION, settings)
    markdown = outputs(board_run.notebook, "text/markdown")
    assert any(m.startswith(f"# Model card: {BOARD_MODEL}") for m in markdown)
    record = load_run_artifact_json(champion.run_id, RECORD_JSON, settings)
    assert render_markdown(record) in markdown  # the record logged at promotion, as it is
    text = "".join(outputs(board_run.notebook))
    assert record["not_supplied"], "the test folder has no partnership file"
    assert f"{len(record['not_supplied'])} facts the partnership has not supplied yet" in text
    for field in record["not_supplied"]:
        assert f"  - {field}: " in text


def test_board_review_changes_nothing_in_the_store(board_run):
    assert board_run.after == board_run.before
