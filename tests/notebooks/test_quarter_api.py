"""The public steps the notebooks call that ``training.retrain`` adds: ``load_quarter``,
``RetrainReport.metrics_table`` and ``promote_challenger``'s refusals.

``retrain_quarter`` and ``promote_challenger``'s decisions are checked through the retrain
notebook's store (``test_notebooks``); the refusals here are made before anything is
recorded, and the tests check that the store is unchanged.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from notebook_runs import BOARD_MODEL, CHILDREN, MODELS, SEED, restored_mlflow_uris, store_state

from features.build import build_features, default_snapshot_dates
from features.contract.problems import ContractError
from features.outcomes import load_outcomes
from features.pointintime import index_records
from features.synth import SynthConfig, generate
from training.compare import Comparison, compare
from training.retrain import RetrainReport, load_quarter, promote_challenger
from models.tracking import TrackingSettings

# --------------------------------------------------------------------------- load_quarter


def test_load_quarter_reads_back_the_partnership_the_notebook_wrote(retrain_run):
    seed = SEED + 1  # the notebook's next quarter, written as files
    partnership = generate(SynthConfig(children=CHILDREN, seed=seed))
    records = index_records(partnership.tables)
    # the extracts alone, as a real partnership's folder holds them: no ground truth
    quarter = load_quarter(retrain_run.folder / "data" / f"seed-{seed}" / "extracts")
    pd.testing.assert_frame_equal(
        quarter.table, build_features(records, default_snapshot_dates(records))
    )
    assert quarter.ground_truth is None


def test_load_quarter_says_the_folder_is_missing_and_what_to_give(tmp_path):
    missing = tmp_path / "2026Q3"
    with pytest.raises(ContractError, match=r"2026Q3 does not exist") as err:
        load_quarter(missing)
    assert "Give the folder holding the extract files" in str(err.value)


# --------------------------------------------------------------------------- metrics_table


def _report(challenger: dict, champion: dict | None) -> RetrainReport:
    comparison = Comparison(
        name="serious_violence",
        challenger_version="2",
        champion_version=None if champion is None else "1",
        challenger=challenger,
        champion=champion,
        test_rows=pd.DataFrame(),
    )
    return RetrainReport(comparison, None, None)


def test_metrics_table_sets_the_challenger_beside_the_champion():
    table = _report({"auc": 0.81, "ece": 0.02}, {"auc": 0.79, "ece": 0.035}).metrics_table()
    assert list(table.columns) == ["challenger", "champion", "change"]
    assert table.loc["auc"].tolist() == pytest.approx([0.81, 0.79, 0.02])
    assert table.loc["ece"].tolist() == pytest.approx([0.02, 0.035, -0.015])


def test_metrics_table_without_a_champion_leaves_its_columns_empty():
    table = _report({"auc": 0.81, "ece": 0.02}, None).metrics_table()
    assert table["challenger"].tolist() == [0.81, 0.02]
    assert table[["champion", "change"]].isna().all().all()


def test_metrics_table_of_a_real_comparison(current):
    comparison = current
    table = RetrainReport(comparison, None, None).metrics_table()
    assert table["challenger"].to_dict() == pytest.approx(comparison.challenger)
    assert table["champion"].to_dict() == pytest.approx(comparison.champion)
    change = np.array(list(comparison.challenger.values())) - list(comparison.champion.values())
    assert table["change"].to_numpy() == pytest.approx(change)


# --------------------------------------------------------------------------- promote_challenger


@pytest.fixture(scope="module")
def current(retrain_run) -> Comparison:
    """The board model's challenger against its champion now, on the notebook's store."""
    with restored_mlflow_uris():
        return compare(BOARD_MODEL, retrain_run.settings)


def _refused_unchanged(settings: TrackingSettings, error, match: str, **kwargs) -> None:
    before = store_state(settings, BOARD_MODEL)
    with pytest.raises(error, match=match):
        promote_challenger(BOARD_MODEL, settings, **kwargs)
    assert store_state(settings, BOARD_MODEL) == before


def test_promote_challenger_refuses_a_comparison_with_an_old_champion(retrain_run, current):
    stale = replace(current, champion_version="99")
    _refused_unchanged(
        retrain_run.settings,
        ValueError,
        rf"made against champion 99 but {BOARD_MODEL}'s champion is now "
        rf"{current.champion_version}: compare again before promoting",
        comparison=stale,
    )


def test_promote_challenger_refuses_another_models_comparison(retrain_run, current):
    _refused_unchanged(
        retrain_run.settings,
        ValueError,
        f"the comparison is of exclusion_neet, not {BOARD_MODEL}",
        comparison=replace(current, name="exclusion_neet"),
    )


@pytest.mark.parametrize("reason", [None, "   "])
def test_promote_challenger_needs_a_reason_to_force(retrain_run, current, reason):
    _refused_unchanged(
        retrain_run.settings,
        ValueError,
        "--force needs a reason",
        comparison=current,
        force=True,
        reason=reason,
    )


def test_promote_challenger_says_to_train_when_there_is_no_challenger(retrain_run):
    untrained = next(n for n in load_outcomes() if n not in MODELS)
    with pytest.raises(LookupError, match=f"{untrained} has no challenger: train one first"):
        promote_challenger(untrained, retrain_run.settings)
