"""Audit a registered model for disproportionality: ``lantern audit --model M``.

The audit reads the version's own test rows (held-out children at the test date), flags the
team's capacity (the top 2%), audits by ethnicity, SEND and sex and their intersections, puts
the indicator-count rule beside it, and, on synthetic data, the true outcomes beside the
recorded ones. Its reports and the policy's verdict are logged to the version's run, where
``lantern promote`` reads the verdict (``fairness/result.json``).
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from features.build import label_column
from features.outcomes import load_outcomes
from training.compare import challenger_version, test_rows
from training.promotion import FAIRNESS_ARTIFACT
from training.tracking import TrackingSettings, get_alias, load_run_artifact_json

GROUPS = ["ethnicity", "send", "sex"]
INTERSECTIONS = [("ethnicity", "send"), ("ethnicity", "sex")]
REPORT_JSON = "fairness/fairness.json"


@dataclass
class ModelAudit:
    """An audited model version: the report, its verdict and where it was logged."""

    name: str
    version: str
    report: object
    verdict: dict
    logged: list[str]


def _version(name: str, version: str | None, settings: TrackingSettings):
    if version:
        return settings.client().get_model_version(name, version)
    return challenger_version(name, settings)


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
    from fairness import FairnessPolicy, ReportContext, audit, prepare_report

    found = _version(name, version, settings)
    rows = test_rows(found.run_id, settings)
    label = label_column(name)
    definitions = load_outcomes()
    date = rows["snapshot_date"].max()
    result = audit(
        rows,
        score="score_lantern",
        label=label,
        groups=GROUPS,
        top_k=top_k_share,
        true_label="true_label" if "true_label" in rows else None,
        baseline="score_indicator_count" if "score_indicator_count" in rows else None,
        intersections=INTERSECTIONS,
        n_boot=n_boot,
        seed=seed,
    )
    champion = get_alias(name, "champion", settings)
    previous = None
    if champion is not None and str(champion.version) != str(found.version):
        previous = load_run_artifact_json(champion.run_id, REPORT_JSON, settings)
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
        result, context=context, policy=policy or FairnessPolicy.assistive(), previous=previous
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
        client.log_artifacts(found.run_id, str(folder), "fairness")
        return sorted(f"fairness/{p.name}" for p in folder.iterdir())
