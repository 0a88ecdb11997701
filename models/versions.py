"""One way to find a registered model version and load it: by alias or by number.

Serving, governance, the audit and the comparison all read versions through here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from models.artifacts import LABEL_ROWS, TEST_ROWS
from models.scoring import ScoringModel
from models.tracking import CHAMPION, TrackingSettings, get_alias

ADVICE = {
    "challenger": "train one first (`lantern train --model {name}`)",
    "champion": "promote one (`lantern promote --model {name}`)",
}


@dataclass(frozen=True)
class LoadedVersion:
    """A registered version and the scoring model it holds."""

    version: ModelVersion
    model: ScoringModel

    @property
    def number(self) -> str:
        """The version number, as a string."""
        return str(self.version.version)

    @property
    def run_id(self) -> str:
        """The training run the version was registered from."""
        return self.version.run_id


def find_version(name: str, which: str, settings: TrackingSettings) -> ModelVersion:
    """The version of ``name`` that ``which`` names: an alias or a version number.

    Raises
    ------
    LookupError
        When the alias is not set or the version does not exist, saying what to do.
    """
    if str(which).isdigit():
        try:
            return settings.client().get_model_version(name, str(which))
        except MlflowException as err:
            raise LookupError(
                f"{name} has no version {which}: give a registered version's number, or an "
                "alias (champion, challenger)"
            ) from err
    found = get_alias(name, which, settings)
    if found is None:
        advice = ADVICE.get(which, "set it with `lantern promote`").format(name=name)
        raise LookupError(f"{name} has no {which}: {advice}")
    return found


def load_version(name: str, which: str, settings: TrackingSettings) -> LoadedVersion:
    """The version of ``name`` that ``which`` names (alias or number), with its model loaded.

    Raises
    ------
    LookupError
        As :func:`find_version`.
    """
    import mlflow.pyfunc

    found = find_version(name, which, settings)
    settings.apply()
    pyfunc = mlflow.pyfunc.load_model(f"models:/{name}/{found.version}")
    return LoadedVersion(found, pyfunc.unwrap_python_model().model)


def load_champion(name: str, settings: TrackingSettings) -> LoadedVersion | None:
    """The champion of ``name`` with its model, or None when it has none."""
    if get_alias(name, CHAMPION, settings) is None:
        return None
    return load_version(name, CHAMPION, settings)


def logged_test_rows(run_id: str, settings: TrackingSettings) -> pd.DataFrame:
    """The held-out test rows a training run logged, with their scores."""
    settings.apply()
    path = settings.client().download_artifacts(run_id, TEST_ROWS)
    return pd.read_parquet(Path(path))


def logged_label_rows(run_id: str, settings: TrackingSettings) -> pd.DataFrame | None:
    """Every labelled row with its true outcome, if the run logged them (synthetic data)."""
    settings.apply()
    client = settings.client()
    folder = Path(LABEL_ROWS).parent.as_posix()
    if LABEL_ROWS not in {f.path for f in client.list_artifacts(run_id, folder)}:
        return None
    path = client.download_artifacts(run_id, LABEL_ROWS)
    return pd.read_parquet(Path(path))
