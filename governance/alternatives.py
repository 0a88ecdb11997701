"""The transparency record's "alternatives considered": every baseline a training run measured
beside Lantern's model, compared on the same children (the run's paired differences), and the
oracle where the data are synthetic. Built from a run's logged metrics; it computes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping

ALTERNATIVES = {
    "indicator_count": (
        "Indicator-count rule",
        "One point per risk indicator on record, highest counts first, as checklist tools "
        "such as RONI do; nothing is learned from data.",
    ),
    "age_only": (
        "Age alone",
        "The rate of the outcome among children of the same age: what a list by age would "
        "find, which a model of the records must beat before its reasons mean anything.",
    ),
    "logistic": (
        "Logistic regression",
        "A linear model of the same features: simpler, and each weight can be read directly.",
    ),
}
"""The alternatives every training run evaluates beside Lantern's model (metric prefixes)."""


def measured(metrics: Mapping[str, float], key: str) -> str:
    """``"0.812 (0.790-0.833)"`` from a run's metrics, or says it was not measured."""
    if key not in metrics:
        return "not measured in this run"
    low, high = metrics.get(f"{key}_low"), metrics.get(f"{key}_high")
    interval = f" ({low:.3f}-{high:.3f})" if low is not None and high is not None else ""
    return f"{metrics[key]:.3f}{interval}"


HEADLINES = {"auc_within_age": "AUC within each year of age", "auc": "test AUC"}


def _headline(metrics: Mapping[str, float]) -> str:
    """The run's headline metric: within age where it was measured, else the plain AUC."""
    return "auc_within_age" if "auc_within_age" in metrics else "auc"


def _verdict(metrics: Mapping[str, float], prefix: str) -> str:
    """Lantern against one alternative, from the run's paired difference on the headline."""
    key = _headline(metrics)
    difference = f"vs.{prefix}.{key}"
    if difference not in metrics:
        return "Not compared on the same children in this run: retrain to compare."
    point, low, high = (metrics.get(difference + part) for part in ("", "_low", "_high"))
    if low is None or high is None:
        return "Not compared on the same children in this run: retrain to compare."
    measured = (
        f"Lantern minus {ALTERNATIVES[prefix][0].lower()}: {point:+.3f} "
        f"(95% CI {low:+.3f} to {high:+.3f}) in {HEADLINES[key]}, on the same children."
    )
    if low > 0:
        return f"Lantern is higher. {measured}"
    if high < 0:
        return f"Lantern is lower. {measured}"
    return (
        f"The difference is within noise: {measured} The simpler option is a real choice "
        "(training config)."
    )


def alternatives_considered(metrics: Mapping[str, float], top_k: str) -> list[dict[str, str]]:
    """Each alternative beside Lantern's model, from the run's metrics: its figures and the
    paired difference on the headline, read as higher, lower or within noise."""
    rows = []
    headline = _headline(metrics)
    for prefix, (name, what) in ALTERNATIVES.items():
        rows.append(
            {
                "option": name,
                "what it is": what,
                HEADLINES[headline]: measured(metrics, f"{prefix}.{headline}"),
                "test AUC": measured(metrics, f"{prefix}.auc"),
                f"precision at top {top_k}": measured(metrics, f"{prefix}.precision_at_k"),
                f"recall at top {top_k}": measured(metrics, f"{prefix}.recall_at_k"),
                "compared with Lantern": _verdict(metrics, prefix),
            }
        )
    rows.append(
        {
            "option": "Lantern (LightGBM, calibrated)",
            "what it is": "The model this record describes.",
            HEADLINES[headline]: measured(metrics, headline),
            "test AUC": measured(metrics, "auc"),
            f"precision at top {top_k}": measured(metrics, "precision_at_k"),
            f"recall at top {top_k}": measured(metrics, "recall_at_k"),
            "compared with Lantern": "-",
        }
    )
    if "oracle.auc" in metrics:
        rows.append(
            {
                "option": "Oracle (synthetic data only)",
                "what it is": "The generator's own probabilities: the best any model of these "
                "records could do. A ceiling, not an option.",
                HEADLINES[headline]: measured(metrics, f"oracle.{headline}"),
                "test AUC": measured(metrics, "oracle.auc"),
                f"precision at top {top_k}": measured(metrics, "oracle.precision_at_k"),
                f"recall at top {top_k}": measured(metrics, "oracle.recall_at_k"),
                "compared with Lantern": "-",
            }
        )
    return rows
