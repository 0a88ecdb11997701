"""Every run artifact path Lantern writes or reads, named once.

Paths are relative to a run's artifact root. Training, the fairness audit and governance
write them; serving, comparisons and the reports read them back.
"""

from __future__ import annotations

DATA_SUMMARY = "data_summary.json"
"""What a training run was given: outcome, features, split and the rows of each period."""
DATA_PROFILE = "data_profile.json"
"""The feature table's profile (missing values, rows per audit group) and whether the run had
the synthetic generator's ground truth: with the summary, the facts a datasheet is written from."""
TEST_ROWS = "evaluation/test_rows.parquet"
"""The challenger's test rows, logged so a champion can be scored on exactly the same data."""
LABEL_ROWS = "evaluation/label_rows.parquet"
"""Every labelled child-snapshot with its true outcome (synthetic data only): the audit
measures recording disparity on these, as it reads no score."""
MODEL_CARD = "model_card/model_card.json"
"""The model card training writes."""
FAIRNESS_ARTIFACT = "fairness/result.json"
"""The fairness audit's result and verdict, read by the promotion gate."""
FAIRNESS_REPORT_JSON = "fairness/fairness.json"
"""The fairness audit's report document."""
LABEL_BIAS_JSON = "label_bias/label_bias.json"
"""The label-bias check from recorded data alone (schema ``lantern.label_bias/1``), logged by
``lantern train`` when it reads the extracts; the model's fairness audit shows it."""
LINKAGE_REPORT = "linkage/report.json"
"""The linkage report of the extracts a run was trained on (``lantern link``), when they were
linked by Lantern: the datasheet and the transparency record describe the linkage from it."""
RECORD_JSON = "record/record.json"
"""The transparency record (ATRS) of a champion, as data."""
RECORD_MD = "record/record.md"
"""The transparency record, as the board reads it."""
DATASHEET_JSON = "datasheet/datasheet.json"
"""The datasheet of the data a run trained on, as data."""
DATASHEET_MD = "datasheet/datasheet.md"
"""The datasheet, as the board reads it."""
