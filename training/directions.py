"""Do a model's contributions keep to the registry's declared directions?

For each feature, the association between its value and its TreeSHAP contribution over a set
of children (Spearman's rank correlation, on the children whose value is recorded): a feature
declared to raise concern must not contribute less as its value rises, and a protective one
must not contribute more. Reversals are artefacts of correlated features and noise, and a
prompt built on one tells a practitioner that "abuse or neglect recorded: yes" is going well.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from features.registry import Registry, default_registry
from models.scoring import ScoringModel

TOLERANCE = 0.05
"""A rank correlation of at most this size against the declared direction is read as none."""

MIN_ROWS = 50
"""Features recorded for fewer children than this are not judged."""

MIN_SPREAD = 0.01
"""Features whose contributions span less than this (log-odds) over the children are not
judged: a part that small is never a reason, and its ordering is noise."""


@dataclass(frozen=True)
class DirectionCheck:
    """One model's contributions against the registry's directions.

    Attributes
    ----------
    rows : pandas.DataFrame
        One row per feature: ``feature``, ``declared`` (raises / protective / either),
        ``association`` (rank correlation of value and contribution; NaN when not judged),
        ``children`` (with the value recorded), ``judged`` and ``contrary``.
    """

    rows: pd.DataFrame

    def contrary(self) -> list[str]:
        """The features whose contributions run against their declared direction."""
        return self.rows.loc[self.rows["contrary"], "feature"].tolist()

    def to_dict(self) -> dict:
        """JSON-ready: the contrary features and every feature's row."""
        rows = self.rows.astype(object).where(self.rows.notna(), None)
        return {"contrary": self.contrary(), "features": rows.to_dict(orient="records")}


def check_directions(
    model: ScoringModel,
    X: np.ndarray,
    contributions: np.ndarray | None = None,
    *,
    registry: Registry | None = None,
    tolerance: float = TOLERANCE,
    min_rows: int = MIN_ROWS,
    min_spread: float = MIN_SPREAD,
) -> DirectionCheck:
    """Which features' contributions run against their declared direction over ``X``.

    Parameters
    ----------
    model : ScoringModel
        The model (its features and booster).
    X : numpy.ndarray
        Children's feature values in ``model.features`` order (NaN: not recorded).
    contributions : numpy.ndarray, optional
        Their TreeSHAP contributions as ``booster.predict(X, pred_contrib=True)`` lays them
        out (computed here when not given).
    registry : Registry, optional
        The declarations (default: Lantern's registry). Features it does not hold, and
        those declared "either", are shown but never contrary.
    tolerance : float, default :data:`TOLERANCE`
        How far against the declared direction the association may go.
    min_rows : int, default :data:`MIN_ROWS`
        Fewest children with the value recorded for a feature to be judged.
    min_spread : float, default :data:`MIN_SPREAD`
        Smallest range of a feature's contributions (log-odds) for it to be judged.

    Returns
    -------
    DirectionCheck
    """
    registry = default_registry() if registry is None else registry
    X = np.asarray(X, dtype=float)
    if contributions is None:
        contributions = model.booster.predict(X, pred_contrib=True)
    contributions = np.asarray(contributions, dtype=float)
    rows = []
    for j, name in enumerate(model.features):
        declared = registry[name].direction if name in registry else "either"
        recorded = ~np.isnan(X[:, j])
        values, weights = X[recorded, j], contributions[recorded, j]
        judged = bool(
            recorded.sum() >= min_rows and np.ptp(values) > 0 and np.ptp(weights) >= min_spread
        )
        association = float(spearmanr(values, weights).statistic) if judged else np.nan
        sign = {"raises": 1, "protective": -1}.get(declared, 0)
        rows.append(
            {
                "feature": name,
                "declared": declared,
                "association": association,
                "children": int(recorded.sum()),
                "judged": bool(judged),
                "contrary": bool(judged and sign and sign * association < -tolerance),
            }
        )
    return DirectionCheck(pd.DataFrame(rows))
