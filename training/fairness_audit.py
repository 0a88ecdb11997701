"""Audit a registered model for disproportionality: ``lantern audit --model M``.

The audit reads the version's own test rows (held-out children at the test date), flags the
team's capacity (the top 2%), audits by ethnicity, SEND and sex and their intersections (and
by age band, reported but not gated), puts
the indicator-count rule beside it, and, on synthetic data, the true outcomes beside the
recorded ones, with the recording disparity measured on every labelled child-snapshot the run
logged (it reads no score, and the test rows alone are too few to see a 1.5-fold disparity for a
group of 6% of children). Its reports and the policy's verdict are logged to the version's run,
where ``lantern promote`` reads the verdict (``fairness/result.json``).
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from features.build import label_column
from features.outcomes import load_outcomes
from features.populations import age_bands
from models.artifacts import FAIRNESS_ARTIFACT, FAIRNESS_REPORT_JSON, LINKAGE_REPORT
from models.tracking import CHALLENGER, TrackingSettings, get_alias, load_run_artifact_json
from models.versions import find_version, logged_label_rows, logged_test_rows
from training.label_bias import logged_label_bias
from training.pseudonyms import ROW_KEY

GROUPS = ["ethnicity", "send", "sex"]
INTERSECTIONS = [("ethnicity", "send"), ("ethnicity", "sex")]
AGE_BAND = "age_band"
"""Also audited where the rows carry ages: the age band (10-13, 14-15, 16-17). Reported for
the board, not gated by the default policy: the outcomes differ by age by definition."""


def with_age_band(rows: pd.DataFrame | None) -> pd.DataFrame | None:
    """``rows`` with an ``age_band`` column from ``age_years``, where they have one."""
    if rows is None or "age_years" not in rows:
        return rows
    bands = age_bands(rows["age_years"].to_numpy(dtype=float))
    return rows.assign(**{AGE_BAND: np.where(bands == "", "other ages", bands)})


@dataclass
class ModelAudit:
    """An audited model version: the report, its verdict and where it was logged."""

    name: str
    version: str
    report: object
    verdict: dict
    logged: list[str]


def audit_test_rows(
    rows: pd.DataFrame,
    name: str,
    *,
    recording_rows: pd.DataFrame | None = None,
    top_k_share: float = 0.02,
    n_boot: int = 1000,
    seed: int = 0,
):
    """The fairness audit of a model's logged test rows (no MLflow); an ``AuditResult``.

    Parameters
    ----------
    rows : pandas.DataFrame
        Test rows as :func:`training.pipeline.scored_test_rows` makes them.
    name : str
        The outcome (model) name, which names the label column.
    recording_rows : pandas.DataFrame, optional
        Every labelled row with its true outcome, to measure the recording disparity on.
    top_k_share : float
        A team's capacity: the share of children flagged.
    n_boot, seed : int
        Bootstrap replicates and seed.
    """
    from fairness import audit

    rows = with_age_band(rows)
    banded = AGE_BAND in rows and (recording_rows is None or "age_years" in recording_rows)
    return audit(
        rows,
        score="score_lantern",
        label=label_column(name),
        groups=GROUPS + [AGE_BAND] if banded else GROUPS,
        top_k=top_k_share,
        true_label="true_label" if "true_label" in rows else None,
        baseline="score_indicator_count" if "score_indicator_count" in rows else None,
        intersections=INTERSECTIONS,
        n_boot=n_boot,
        seed=seed,
        cluster=ROW_KEY if ROW_KEY in rows else "child_id",
        recording_rows=with_age_band(recording_rows) if banded else recording_rows,
    )


def audit_model(
    name: str,
    settings: TrackingSettings,
    *,
    version: str | None = None,
    top_k_share: float = 0.02,
    n_boot: int = 1000,
    seed: int = 0,
    policy=None,
) -> ModelAudit:
    """Audit a registered version (default: the challenger) and log the reports to its run."""
    from fairness import FairnessPolicy, ReportContext, prepare_report

    found = find_version(name, version or CHALLENGER, settings)
    rows = logged_test_rows(found.run_id, settings)
    date = rows["snapshot_date"].max()
    definitions = load_outcomes()
    result = audit_test_rows(
        rows,
        name,
        recording_rows=logged_label_rows(found.run_id, settings) if "true_label" in rows else None,
        top_k_share=top_k_share,
        n_boot=n_boot,
        seed=seed,
    )
    champion = get_alias(name, "champion", settings)
    previous = None
    if champion is not None and str(champion.version) != str(found.version):
        previous = load_run_artifact_json(champion.run_id, FAIRNESS_REPORT_JSON, settings)
    context = ReportContext(
        title=f"Fairness audit: {name} v{found.version}",
        label_definition=definitions[name].description if name in definitions.root else None,
        threshold_rationale=(
            f"A team's capacity: the {top_k_share:.0%} highest-scored children of the test "
            f"period ({date:%d %B %Y}), as in the model card."
        ),
        source=f"registered model {name} v{found.version}: held-out children on {date:%Y-%m-%d}",
    )
    report = prepare_report(
        result,
        context=context,
        policy=policy or FairnessPolicy.assistive(),
        previous=previous,
        cross_checks=logged_label_bias(found.run_id, settings),
        linkage=load_run_artifact_json(found.run_id, LINKAGE_REPORT, settings),
    )
    logged = _log(report, name, found, settings)
    return ModelAudit(name, str(found.version), report, report.verdict, logged)


def _log(report, name: str, found, settings: TrackingSettings) -> list[str]:
    from fairness import write_reports
    from fairness.snapshot import screenshot

    client = settings.client()
    verdict = {
        **report.verdict,
        "model": name,
        "version": str(found.version),
        "audited_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "fairness"
        json_path, html_path = write_reports(report, folder)
        (folder / Path(FAIRNESS_ARTIFACT).name).write_text(json.dumps(verdict, indent=2))
        try:
            errors = screenshot(html_path, folder / "report.png")
            if errors:
                verdict["report_console_errors"] = errors
        except FileNotFoundError:
            pass  # no Chromium here: the HTML and JSON are still logged
        except Exception as err:  # a picture is a convenience; the audit must not fail for it
            verdict["report_picture_failed"] = f"{type(err).__name__}: {err}"[:500]
        client.log_artifacts(found.run_id, str(folder), "fairness")
        return sorted(f"fairness/{p.name}" for p in folder.iterdir())
