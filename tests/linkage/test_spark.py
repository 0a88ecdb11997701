"""``lantern link --engine spark`` (Splink's Spark backend) gives the same children as DuckDB
on a small partnership. Run by ``make test-spark`` (it needs ``make spark``: pyspark and Java)."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from features.synth import SynthConfig, generate
from lantern.cli import app
from linkage.synth.partnership import make_raw, write_raw_partnership

pytestmark = pytest.mark.spark
pytest.importorskip("pyspark", reason="the Spark engine needs `make spark`")


def test_spark_and_duckdb_link_the_same_records_into_the_same_children(tmp_path):
    partnership = generate(SynthConfig(children=400, seed=3))
    family = partnership.hidden.set_index("child_id")["family"]
    write_raw_partnership(make_raw(partnership.tables, family, 3), tmp_path / "p")
    runner = CliRunner()
    for engine in ("duckdb", "spark"):
        done = runner.invoke(
            app,
            [
                "link",
                str(tmp_path / "p" / "raw"),
                "--out",
                str(tmp_path / engine),
                "--engine",
                engine,
            ],
        )
        assert done.exit_code == 0, done.output
    duck, spark = (
        pd.read_parquet(tmp_path / e / "linkage" / "crosswalk.parquet") for e in ("duckdb", "spark")
    )
    both = duck.merge(spark, on=["source", "source_record_id"], suffixes=("_d", "_s"))
    assert len(both) == len(duck) == len(spark)
    # The same partition of records into children (the ids are keyed hashes, keys differ).
    assert (both.groupby("child_id_d")["child_id_s"].nunique() == 1).all()
    assert (both.groupby("child_id_s")["child_id_d"].nunique() == 1).all()
    # Each backend draws its own random sample of pairs to estimate the u probabilities, so
    # the confidences differ a little (seen: at most 0.03 on this partnership).
    gap = (both["match_probability_d"] - both["match_probability_s"]).abs()
    assert gap.max() < 0.05 and gap.median() < 0.001
