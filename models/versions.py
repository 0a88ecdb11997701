"""One way to find a registered model version and load it: by alias or by number.

Serving, governance, the audit and the comparison all read versions through here.
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from models.artifacts import LABEL_ROWS, TEST_ROWS
from models.scoring import BOOSTER_FILE, META_FILE, ScoringModel
from models.tracking import CHAMPION, TrackingSettings, get_alias

SEAL_TAG = "lantern.champion.seal"
"""Registered-model tag written by ``lantern promote``: ``"<version> <sha256 of its files>"``."""

SCORING_FILES = "artifacts/scoring"
"""Where a logged model keeps its scoring files, under the logged model's artifacts."""

ADVICE = {
    "challenger": "train one first (`lantern train --model {name}`)",
    "champion": "promote one (`lantern promote --model {name}`)",
}


@dataclass(frozen=True)
class LoadedVersion:
    """A registered version, the scoring model it holds, and its files' SHA-256."""

    version: ModelVersion
    model: ScoringModel
    digest: str = ""

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


def scoring_files(version: ModelVersion, settings: TrackingSettings, into: Path) -> Path:
    """Download a version's scoring files (the booster's text and the calibration's JSON,
    :meth:`ScoringModel.save`) into ``into``; return their folder.

    Only data files are read: never MLflow's pickled pyfunc, so a registry that someone
    else can write cannot run code in whoever loads a model.
    """
    import mlflow.artifacts

    settings.apply()
    logged = settings.client().get_logged_model(str(version.source).removeprefix("models:/"))
    folder = mlflow.artifacts.download_artifacts(
        artifact_uri=f"{logged.artifact_location}/{SCORING_FILES}",
        dst_path=str(into),
        tracking_uri=settings.uri,
    )
    return Path(folder)


def files_digest(folder: Path) -> str:
    """SHA-256 over a scoring model's files, by name: what ``lantern promote`` seals."""
    digest = hashlib.sha256()
    for name in (BOOSTER_FILE, META_FILE):
        digest.update(name.encode() + b"\0")
        digest.update((Path(folder) / name).read_bytes())
    return digest.hexdigest()


def _loaded(found: ModelVersion, settings: TrackingSettings) -> LoadedVersion:
    with tempfile.TemporaryDirectory(prefix="lantern-model-") as tmp:
        folder = scoring_files(found, settings, Path(tmp))
        return LoadedVersion(found, ScoringModel.load(folder), files_digest(folder))


def load_version(name: str, which: str, settings: TrackingSettings) -> LoadedVersion:
    """The version of ``name`` that ``which`` names (alias or number), with its model loaded
    from its data files (:func:`scoring_files`).

    Raises
    ------
    LookupError
        As :func:`find_version`.
    """
    return _loaded(find_version(name, which, settings), settings)


class UnsealedChampionError(LookupError):
    """The ``champion`` alias, or its files, are not what ``lantern promote`` recorded."""


def seal_champion(name: str, version: str, settings: TrackingSettings) -> str:
    """Record, on the registered model, that ``version`` is the champion ``lantern promote``
    chose and the SHA-256 of its files (:data:`SEAL_TAG`); returns the digest."""
    found = find_version(name, str(version), settings)
    with tempfile.TemporaryDirectory(prefix="lantern-seal-") as tmp:
        digest = files_digest(scoring_files(found, settings, Path(tmp)))
    settings.client().set_registered_model_tag(name, SEAL_TAG, f"{found.version} {digest}")
    return digest


def load_exact(name: str, version: str, digest: str, settings: TrackingSettings) -> LoadedVersion:
    """Version ``version`` of ``name``, refused unless its files' SHA-256 is ``digest`` (what
    another process loaded and checked against the seal).

    Raises
    ------
    UnsealedChampionError
        If the files differ.
    LookupError
        If there is no such version.
    """
    loaded = _loaded(find_version(name, str(version), settings), settings)
    if loaded.digest != digest:
        raise UnsealedChampionError(
            f"the files of {name} v{version} changed since another worker loaded them (their "
            "SHA-256 differs); nothing was switched"
        )
    return loaded


def load_champion(
    name: str, settings: TrackingSettings, *, sealed: bool = False
) -> LoadedVersion | None:
    """The champion of ``name`` with its model, or None when it has none.

    Parameters
    ----------
    sealed : bool
        Refuse a champion that ``lantern promote`` did not choose, or whose files changed
        since (the service loads only sealed champions).

    Raises
    ------
    UnsealedChampionError
        When ``sealed`` and the alias or the files differ from the seal.
    """
    found = get_alias(name, CHAMPION, settings)
    if found is None:
        return None
    if not sealed:
        return _loaded(found, settings)
    tags = settings.client().get_registered_model(name).tags or {}
    seal_version, _, seal_digest = tags.get(SEAL_TAG, "").partition(" ")
    if seal_version != str(found.version):
        chose = f"chose v{seal_version}" if seal_version else "never chose a champion"
        raise UnsealedChampionError(
            f"{name}'s champion alias points at v{found.version}, but `lantern promote` "
            f"{chose}: the alias was moved outside the promotion gate. Promote the version "
            f"you mean with `lantern promote --model {name}`"
        )
    loaded = _loaded(found, settings)
    if loaded.digest != seal_digest:
        raise UnsealedChampionError(
            f"the files of {name} v{found.version} are not the ones `lantern promote` "
            "sealed (their SHA-256 differs): the model store was changed after promotion. "
            "Restore the store from a backup, or train and promote a new version"
        )
    return loaded


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
