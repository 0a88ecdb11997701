"""Auditing a scores file (`fairness.scores`): reading, filtering and what a bad file is told."""

from __future__ import annotations

import pandas as pd
import pytest
from fairness_fixtures import COMPAS_CSV, NO_COMPAS, PROPUBLICA_FILTERS, compas_filtered

from fairness.scores import ScoresFileError, apply_filters, audit_scores_file, read_scores


@pytest.fixture
def small_scores():
    rng = pd.Series(range(400))
    return pd.DataFrame(
        {
            "score": (rng * 37 % 101) / 100,
            "outcome": (rng * 13 % 7 == 0).astype(int),
            "group": ["a" if i % 3 else "b" for i in rng],
            "keep": rng % 4 != 0,
        }
    )


def test_a_scores_file_is_read_from_csv_and_parquet_alike(tmp_path, small_scores):
    small_scores.to_csv(tmp_path / "s.csv", index=False)
    small_scores.to_parquet(tmp_path / "s.parquet", index=False)
    from_csv = read_scores(tmp_path / "s.csv")
    from_parquet = read_scores(tmp_path / "s.parquet")
    pd.testing.assert_frame_equal(from_csv, from_parquet, check_dtype=False)
    assert len(from_csv) == 400


def test_a_missing_or_foreign_file_is_told_what_to_give(tmp_path):
    with pytest.raises(ScoresFileError, match="does not exist; give a CSV or Parquet file"):
        read_scores(tmp_path / "nothing.csv")
    (tmp_path / "scores.xlsx").write_bytes(b"not a table")
    with pytest.raises(ScoresFileError, match=r"neither \.csv nor \.parquet; convert it"):
        read_scores(tmp_path / "scores.xlsx")


def test_filters_apply_in_order_and_say_what_each_kept(small_scores):
    kept, steps = apply_filters(small_scores, ["keep", "group == 'a'"])
    both = (small_scores.index % 4 != 0) & (small_scores.index % 3 != 0)
    assert steps == [("keep", 300), ("group == 'a'", int(both.sum()))]
    assert len(kept) == steps[-1][1] and set(kept["group"]) == {"a"}


def test_a_bad_filter_names_the_columns_and_no_command_line_flag(small_scores):
    with pytest.raises(ScoresFileError) as caught:
        apply_filters(small_scores, ["no_such_column > 1"])
    message = str(caught.value)
    assert message.startswith("filter 'no_such_column > 1' failed")
    assert "columns are: score, outcome, group, keep" in message
    assert "--" not in message


def test_audit_error_from_the_audit_is_a_scores_file_error(tmp_path, small_scores):
    small_scores.to_csv(tmp_path / "s.csv", index=False)
    with pytest.raises(ScoresFileError, match="no_such_group"):
        audit_scores_file(
            tmp_path / "s.csv",
            score_col="score",
            label_col="outcome",
            group_cols=["no_such_group"],
            top_k=50,
            n_boot=20,
        )


def test_the_compas_file_with_propublicas_filters_keeps_their_rows():
    if not COMPAS_CSV.exists():
        pytest.skip(NO_COMPAS)
    result, source = audit_scores_file(
        COMPAS_CSV,
        score_col="decile_score",
        label_col="two_year_recid",
        group_cols=["race"],
        filters=PROPUBLICA_FILTERS,
        threshold=5,
        n_boot=50,
        intersections=False,
    )
    assert result.n == len(compas_filtered()) == 6172
    assert source.rows_read == 7214
    assert [kept for _, kept in source.filters][-1] == 6172
    assert source.describe().startswith("Read from compas-scores-two-years.csv: 7,214 rows")
