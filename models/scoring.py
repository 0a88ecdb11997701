"""Lantern's scoring model: a LightGBM booster and its probability calibration, one object,
and its MLflow pyfunc face.

Calibration is Platt scaling of the booster's log-odds, fitted on the validation period:
``p = sigmoid(a * margin + b)``. Being a straight line in log-odds, it keeps TreeSHAP
contributions meaningful: each feature's share of the calibrated log-odds is ``a`` times its
contribution to the margin.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import lightgbm as lgb
import mlflow.pyfunc
import numpy as np
import pandas as pd

BOOSTER_FILE = "booster.txt"
META_FILE = "model.json"


def as_matrix(frame: pd.DataFrame, features: list[str]) -> np.ndarray:
    """Model input: the feature columns as float64, NaN for missing (never pandas NA)."""
    missing = [f for f in features if f not in frame]
    if missing:
        raise KeyError(f"the input lacks feature columns {missing}; it needs all of {features}")
    return frame[features].to_numpy(dtype=np.float64, na_value=np.nan)


@dataclass
class ScoringModel:
    """A fitted model: booster, calibration and the features it reads, in order."""

    booster: lgb.Booster
    features: list[str]
    slope: float
    intercept: float
    outcome: str

    def margin(self, X: np.ndarray) -> np.ndarray:
        """The booster's raw log-odds."""
        return self.booster.predict(X, raw_score=True)

    def log_odds(self, X: np.ndarray) -> np.ndarray:
        """Calibrated log-odds."""
        return self.slope * self.margin(X) + self.intercept

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Calibrated probability of the outcome within the window."""
        return 1.0 / (1.0 + np.exp(-self.log_odds(X)))

    def proba_from_contributions(self, contributions: np.ndarray) -> np.ndarray:
        """Calibrated probability from TreeSHAP contributions (each row sums to the margin).

        Equal to :meth:`predict_proba` on the explained rows, without running the booster
        again, and the number shown is then exactly the one its reasons explain.
        """
        margin = np.atleast_2d(contributions).sum(axis=1)
        return 1.0 / (1.0 + np.exp(-(self.slope * margin + self.intercept)))

    def contributions(self, X: np.ndarray) -> np.ndarray:
        """TreeSHAP contributions to the raw margin; the last column is the base value."""
        return self.booster.predict(X, pred_contrib=True)

    def save(self, folder: Path) -> Path:
        """Write the booster and metadata to ``folder``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.booster.save_model(folder / BOOSTER_FILE)
        meta = {
            "features": self.features,
            "slope": self.slope,
            "intercept": self.intercept,
            "outcome": self.outcome,
        }
        (folder / META_FILE).write_text(json.dumps(meta, indent=2))
        return folder

    @classmethod
    def load(cls, folder: Path) -> ScoringModel:
        """Read a model written by :meth:`save`."""
        folder = Path(folder)
        meta = json.loads((folder / META_FILE).read_text())
        booster = lgb.Booster(model_file=str(folder / BOOSTER_FILE))
        return cls(booster=booster, **meta)


class LanternPyfunc(mlflow.pyfunc.PythonModel):
    """The MLflow face of a :class:`ScoringModel`: a feature frame in, probabilities out."""

    def load_context(self, context) -> None:
        self.model = ScoringModel.load(Path(context.artifacts["model"]))

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        X = as_matrix(model_input, self.model.features)
        return pd.DataFrame({"probability": self.model.predict_proba(X)})
