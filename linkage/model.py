"""The Splink model that scores pairs of person records: which agency records are one child.

Exact rules come first (a shared UPN or NHS number with a compatible year of birth is a
link); the rest is probabilistic (Fellegi-Sunter, trained without labels by expectation
maximisation): names by Jaro-Winkler with term-frequency adjustment, date of birth with a
level for a day and month swapped, postcode by unit, sector and district, sex, and the two
identifiers where both records hold one.
"""

from __future__ import annotations

import logging
import unicodedata

import numpy as np
import pandas as pd

from linkage.ingest import normal_postcode

DETERMINISTIC = (
    "l.upn = r.upn and (l.dob_year is null or r.dob_year is null or l.dob_year = r.dob_year)",
    "l.nhs_number = r.nhs_number and "
    "(l.dob_year is null or r.dob_year is null or l.dob_year = r.dob_year)",
)
"""The exact rules, as SQL over a pair (``l``, ``r``) of standardised records."""


def standardise(people: pd.DataFrame) -> pd.DataFrame:
    """The person records in the form the model compares.

    Names lower case without diacritics or punctuation (a hyphen becomes a space), postcodes
    upper case with one space, identifiers without spaces, dates of birth as ``YYYY-MM-DD``.
    ``unique_id`` numbers the records in the order given.
    """
    out = pd.DataFrame({"unique_id": np.arange(len(people), dtype=np.int64)})
    out["source"] = people["source"].to_numpy()
    out["forename"] = [_name(v) for v in people["forename"]]
    out["surname"] = [_name(v) for v in people["surname"]]
    dob = pd.to_datetime(people["dob"])
    out["dob"] = dob.dt.strftime("%Y-%m-%d").where(dob.notna(), None).to_numpy()
    out["dob_year"] = dob.dt.year.astype("Int64").to_numpy()
    out["sex"] = people["sex"].where(people["sex"].isin(["F", "M"]), None).to_numpy()
    out["postcode"] = [normal_postcode(v) for v in people["postcode"]]
    out["upn"] = [_identifier(v) for v in people["upn"]]
    out["nhs_number"] = [_identifier(v) for v in people["nhs_number"]]
    return out


def _name(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    text = value.replace("ł", "l").replace("Ł", "L").replace("ı", "i")
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    text = "".join(c if c.isalnum() else " " for c in text.lower().replace("'", ""))
    return " ".join(text.split()) or None


def _identifier(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    text = "".join(value.split()).upper()
    return text or None


def settings(link_type: str = "dedupe_only"):
    """Splink settings: the comparisons and the blocking rules that propose pairs."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    dob = cl.CustomComparison(
        output_column_name="dob",
        comparison_levels=[
            cll.NullLevel("dob"),
            cll.ExactMatchLevel("dob"),
            cll.CustomLevel(
                "substr(dob_l, 1, 4) = substr(dob_r, 1, 4) and "
                "substr(dob_l, 6, 2) = substr(dob_r, 9, 2) and "
                "substr(dob_l, 9, 2) = substr(dob_r, 6, 2)",
                label_for_charts="Day and month swapped",
            ),
            cll.DamerauLevenshteinLevel("dob", 1),
            cll.AbsoluteDateDifferenceLevel(
                "dob", input_is_string=True, threshold=1, metric="month"
            ),
            cll.AbsoluteDateDifferenceLevel(
                "dob", input_is_string=True, threshold=1, metric="year"
            ),
            cll.ElseLevel(),
        ],
    )
    surname = cl.CustomComparison(
        output_column_name="surname",
        comparison_levels=[
            cll.NullLevel("surname"),
            cll.ExactMatchLevel("surname", term_frequency_adjustments=True),
            cll.CustomLevel(
                "surname_l = forename_r and forename_l = surname_r",
                label_for_charts="Surname and forename the other way round",
            ),
            cll.JaroWinklerLevel("surname", 0.92),
            cll.CustomLevel(
                # one surname is a whole word of the other (plain SQL, for DuckDB and Spark)
                "concat(' ', surname_l, ' ') like concat('% ', surname_r, ' %') or "
                "concat(' ', surname_r, ' ') like concat('% ', surname_l, ' %')",
                label_for_charts="One part of a double surname",
            ),
            cll.JaroWinklerLevel("surname", 0.8),
            cll.ElseLevel(),
        ],
    )
    forename = cl.CustomComparison(
        output_column_name="forename",
        comparison_levels=[
            cll.NullLevel("forename"),
            cll.ExactMatchLevel("forename", term_frequency_adjustments=True),
            cll.CustomLevel(
                "forename_l = surname_r and surname_l = forename_r",
                label_for_charts="Forename and surname the other way round",
            ),
            cll.JaroWinklerLevel("forename", 0.92),
            cll.JaroWinklerLevel("forename", 0.8),
            cll.ElseLevel(),
        ],
    )
    return SettingsCreator(
        link_type=link_type,
        unique_id_column_name="unique_id",
        comparisons=[
            forename,
            surname,
            dob,
            cl.PostcodeComparison("postcode"),
            cl.ExactMatch("sex"),
            cl.ExactMatch("upn"),
            cl.ExactMatch("nhs_number"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("upn"),
            block_on("nhs_number"),
            block_on("dob"),
            block_on("forename", "surname"),
            block_on("postcode", "substr(forename, 1, 1)"),
            block_on("surname", "dob_year"),
            block_on("forename", "substr(surname, 1, 1)"),
        ],
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )


def score_pairs(
    records: pd.DataFrame,
    *,
    min_probability: float,
    seed: int = 0,
    engine: str = "duckdb",
    spark=None,
) -> tuple[pd.DataFrame, dict]:
    """Train the model on ``records`` (unsupervised) and score every pair the rules propose.

    Parameters
    ----------
    records : pd.DataFrame
        Standardised records (:func:`standardise`).
    min_probability : float
        Pairs scoring below this are not returned.
    seed : int
        Seed of the random sampling that estimates the u probabilities.
    engine : {"duckdb", "spark"}
    spark : pyspark.sql.SparkSession, optional
        The session for the Spark engine.

    Returns
    -------
    pairs : pd.DataFrame
        ``unique_id_l, unique_id_r, match_weight, match_probability`` and ``rule``
        (``"exact"`` for pairs an exact rule links, else ``"probabilistic"``).
    model : dict
        The trained Splink model (its settings, as Splink saves them).
    """
    from splink import DuckDBAPI, Linker, block_on

    logging.getLogger("splink").setLevel(logging.ERROR)
    if engine == "spark":
        from splink import SparkAPI

        db = SparkAPI(spark_session=spark)
        table = db.register(_spark_frame(spark, records))
    else:
        import duckdb

        connection = duckdb.connect()
        connection.execute("SET enable_progress_bar = false")
        db = DuckDBAPI(connection=connection)
        table = db.register(records)
    linker = Linker(table, settings(), log_level=logging.ERROR)
    training = linker.training
    training.estimate_probability_two_random_records_match(list(DETERMINISTIC), recall=0.9)
    training.estimate_u_using_random_sampling(max_pairs=1_000_000, seed=seed)
    training.estimate_parameters_using_expectation_maximisation(block_on("dob"))
    training.estimate_parameters_using_expectation_maximisation(block_on("forename", "surname"))
    predicted = linker.inference.predict(threshold_match_probability=min_probability)
    pairs = predicted.as_pandas_dataframe()[
        ["unique_id_l", "unique_id_r", "match_weight", "match_probability"]
    ]
    pairs = _with_exact(records, pairs)
    model = linker.misc.save_model_to_json()
    return pairs, model


def _with_exact(records: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
    """Mark the pairs the exact rules link, adding any the scoring left below its floor."""
    exact = exact_pairs(records)
    merged = pairs.merge(exact, on=["unique_id_l", "unique_id_r"], how="outer", indicator=True)
    merged["rule"] = np.where(merged["_merge"] == "left_only", "probabilistic", "exact")
    merged.loc[merged["rule"] == "exact", "match_probability"] = 1.0
    merged["match_weight"] = merged["match_weight"].fillna(np.inf)
    return merged.drop(columns="_merge").reset_index(drop=True)


def exact_pairs(records: pd.DataFrame) -> pd.DataFrame:
    """Pairs of records sharing a UPN or an NHS number, with compatible years of birth."""
    found = []
    for column in ("upn", "nhs_number"):
        held = records.loc[records[column].notna(), ["unique_id", column, "dob_year"]]
        both = held.merge(held, on=column, suffixes=("_l", "_r"))
        both = both[both["unique_id_l"] < both["unique_id_r"]]
        year_l, year_r = both["dob_year_l"], both["dob_year_r"]
        ok = year_l.isna() | year_r.isna() | (year_l == year_r)
        found.append(both.loc[ok.to_numpy(dtype=bool), ["unique_id_l", "unique_id_r"]])
    return pd.concat(found).drop_duplicates().reset_index(drop=True)


def _spark_frame(spark, records: pd.DataFrame):
    """The standardised records as a Spark DataFrame with an explicit schema (nulls kept)."""
    from pyspark.sql import types as T

    fields = [T.StructField("unique_id", T.LongType(), False)] + [
        T.StructField(c, T.LongType() if c == "dob_year" else T.StringType(), True)
        for c in records.columns
        if c != "unique_id"
    ]
    rows = [
        tuple(
            None if pd.isna(v) else (int(v) if c in ("unique_id", "dob_year") else str(v))
            for c, v in zip(records.columns, row, strict=True)
        )
        for row in records.itertuples(index=False)
    ]
    return spark.createDataFrame(rows, T.StructType(fields))
