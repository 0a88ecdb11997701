"""What the service serves, in one immutable piece: each model's champion and the latest snapshot.

:func:`load_served` reads the champions from the MLflow registry and the newest snapshot of
the feature table; a :class:`Served` answers prompts, record prompts and cohort lists from
them in-process (the service is a thin HTTP face over it; the benchmarks call it directly
too). A reload builds a new :class:`Served` and swaps the reference, so a request already in
flight finishes on the one it started with.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pydantic
import yaml

from access.config import StoreSettings
from explain.batch import explainer_for
from explain.feature_record import validate_feature_record
from explain.prompt import (
    AdvisoryPrompt,
    CohortList,
    ServedModel,
    advisory_prompt,
    cohort_list,
    model_prompt,
)
from explain.provenance import linkage_note
from explain.reasons import MIN_SHARE
from features.outcomes import load_outcomes
from features.registry import Registry, default_registry
from models.artifacts import MODEL_CARD
from models.scoring import as_matrix
from models.tracking import TrackingSettings

FEATURES_VARIABLE = "LANTERN_FEATURES"
LINKAGE_VARIABLE = "LANTERN_LINKAGE"
CONFIG_VARIABLE = "LANTERN_SERVICE_CONFIG"
DEFAULT_FEATURES = "data/partnership/linked/features.parquet"
LINK_CONFIDENCE = "confidence.parquet"
"""The per-child, per-agency link confidence ``lantern link`` writes in its linkage folder."""


def _default_features() -> Path:
    return Path(os.environ.get(FEATURES_VARIABLE) or DEFAULT_FEATURES).absolute()


def _default_linkage() -> Path | None:
    folder = os.environ.get(LINKAGE_VARIABLE)
    return Path(folder).absolute() if folder else None


def _default_models() -> list[str]:
    return list(load_outcomes().root)


class ServiceSettings(pydantic.BaseModel):
    """Where the service finds its models, its snapshot and its store.

    Attributes
    ----------
    features : Path
        The feature table written by ``lantern features``; the newest snapshot in it is
        served. Default ``$LANTERN_FEATURES``, else
        ``data/partnership/linked/features.parquet`` (where ``make quickstart`` writes it).
    linkage : Path or None
        The linkage folder (``lantern link``'s ``DIR/linkage``) of the extracts the features
        were built from: each prompt then says which agencies' records were linked into the
        child's and names one linked with lower confidence. Default ``$LANTERN_LINKAGE``;
        None: prompts say nothing of linkage.
    models : list of str
        The outcomes whose ``champion`` is served (default: every outcome in
        ``features/outcomes.yaml``).
    tracking : TrackingSettings
        The MLflow store holding the registry.
    store : StoreSettings
        The database of keys, audit rows, prompts and judgements.
    watch_seconds : float
        How often each worker checks the registry for a new champion (0: never; then only
        ``POST /reload`` picks a promotion up).
    top_reasons : int
        Reasons of each direction shown per model in a prompt.
    reason_min_share : float
        Smallest share of a child's total weight a named reason carries (default 5%): a
        smaller part says nothing a practitioner could act on.
    workers : int
        Worker processes answering requests (each holds the models and the snapshot). Two
        suit a two-core machine; a promotion reaches them together (:mod:`serving.fleet`).
    run_dir : Path or None
        Folder where one server's workers agree on reloads (default: a folder named after
        the ``bentoml serve`` process in ``<tmp>/lantern-<uid>``). It must be private: a
        folder others may write to is refused, since its files make the workers reload.
    retention_hours : float
        How often the service applies the retention policy (its first worker, at start and
        then every this many hours; 0: never, leave it to ``lantern retention --apply``).
    cohort_capacity : int
        The most children one ``/cohort`` list may name: the team capacity. Set it to the
        number of children the partnership's teams can act on in a cycle.
    trace_requests : bool
        Record an OpenTelemetry span for every request. Off by default: in a profile of the
        service the spans took about a tenth of the event loop's time per ``/prompt``, and
        they go nowhere until an exporter is configured in BentoML's own configuration.
    """

    model_config = pydantic.ConfigDict(extra="forbid")

    features: Path = pydantic.Field(default_factory=_default_features)
    linkage: Path | None = pydantic.Field(default_factory=_default_linkage)
    models: list[str] = pydantic.Field(default_factory=_default_models, min_length=1)
    tracking: TrackingSettings = pydantic.Field(default_factory=TrackingSettings)
    store: StoreSettings = pydantic.Field(default_factory=StoreSettings)
    watch_seconds: float = pydantic.Field(30.0, ge=0)
    top_reasons: int = pydantic.Field(5, ge=1, le=20)
    reason_min_share: float = pydantic.Field(MIN_SHARE, ge=0, lt=1)
    workers: int = pydantic.Field(2, ge=1, le=64)
    run_dir: Path | None = None
    trace_requests: bool = False
    cohort_capacity: int = pydantic.Field(200, ge=1, le=100_000)
    retention_hours: float = pydantic.Field(24.0, ge=0)


def load_service_settings(path: Path | None = None) -> ServiceSettings:
    """Service settings from a YAML file (default ``$LANTERN_SERVICE_CONFIG`` if set).

    Raises
    ------
    ValueError
        If the file cannot be read or holds unknown or invalid settings.
    """
    path = path or (Path(os.environ[CONFIG_VARIABLE]) if os.environ.get(CONFIG_VARIABLE) else None)
    if path is None:
        return ServiceSettings()
    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as err:
        raise ValueError(f"cannot read service settings {path}: {err}") from None
    try:
        return ServiceSettings(**data)
    except (TypeError, pydantic.ValidationError) as err:
        raise ValueError(f"service settings {path} are not valid: {err}") from None


class NotReadyError(RuntimeError):
    """The service cannot serve yet (no champion, no feature table); the message says why."""


class UnknownChildError(LookupError):
    """The child id is not in the served snapshot."""


class UnknownModelError(LookupError):
    """The model name is not one the service serves."""


# --------------------------------------------------------------------------- the served state


@dataclass(frozen=True)
class ServedOutcome:
    """One model as served: the champion, its explainer, and its scores for the cohort."""

    served: ServedModel
    explainer: Callable[[np.ndarray], np.ndarray]
    X: np.ndarray
    probability: np.ndarray
    sorted_probability: np.ndarray
    run_id: str
    card: dict | None = None
    digest: str = ""
    """SHA-256 of the model's files, as loaded (and checked against the seal)."""

    @property
    def features(self) -> list[str]:
        return self.served.model.features


@dataclass(frozen=True)
class Snapshot:
    """The newest feature snapshot: one row per child."""

    date: pd.Timestamp
    child_ids: np.ndarray
    rows: Mapping[str, int]
    frame: pd.DataFrame


@dataclass(frozen=True)
class Served:
    """Everything one version of the service answers from (see the module docstring)."""

    snapshot: Snapshot
    models: Mapping[str, ServedOutcome]
    registry: Registry
    loaded_at: str
    top_reasons: int = 5
    min_share: float = MIN_SHARE
    record_features: list[str] = field(default_factory=list)
    linkage: Mapping[str, list[tuple[str, float]]] | None = None
    """Each child's agencies and the lowest confidence of their linked records, if given."""

    def linkage_note(self, child_id: str) -> dict | None:
        """How confidently the child's records were linked; None without the linkage."""
        if self.linkage is None:
            return None
        rows = self.linkage.get(str(child_id))
        return linkage_note(rows) if rows else None

    def versions(self) -> dict[str, str]:
        """Model name -> the version served."""
        return {name: str(m.served.version) for name, m in self.models.items()}

    def plan(self) -> str:
        """What this state is, exactly, as JSON :func:`load_served` can load again: each
        model's version and files' SHA-256, and the snapshot date."""
        return json.dumps(
            {
                "snapshot_date": f"{self.snapshot.date:%Y-%m-%d}",
                "models": {
                    name: {"version": str(m.served.version), "sha256": m.digest}
                    for name, m in self.models.items()
                },
            }
        )

    def outcome(self, name: str) -> ServedOutcome:
        """The served model called ``name``."""
        if name not in self.models:
            raise UnknownModelError(
                f"no model called {name!r} is served; choose one of {', '.join(self.models)}"
            )
        return self.models[name]

    def row(self, child_id: str) -> int:
        """The child's row in the snapshot."""
        try:
            return self.snapshot.rows[str(child_id)]
        except KeyError:
            raise UnknownChildError(
                f"child {child_id!r} is not in the partnership's latest snapshot "
                f"({self.snapshot.date:%Y-%m-%d}); check the pseudonymised id, or send the "
                "child's record to /prompt_from_record"
            ) from None

    def prompt(
        self, child_id: str, purpose: str, *, prompt_id: str, issued_at: datetime
    ) -> AdvisoryPrompt:
        """The advisory prompt for a child in the snapshot, from every served model."""
        i = self.row(child_id)
        sections = [self._section(m, m.X[i], name) for name, m in self.models.items()]
        return advisory_prompt(
            prompt_id=prompt_id,
            child_id=str(child_id),
            snapshot_date=self.snapshot.date,
            purpose=purpose,
            issued_at=issued_at,
            models=sections,
            linkage=self.linkage_note(child_id),
        )

    def prompt_from_record(
        self,
        record: Mapping[str, object],
        purpose: str,
        *,
        child_id: str,
        prompt_id: str,
        issued_at: datetime,
    ) -> AdvisoryPrompt:
        """The advisory prompt for a feature record another system sent.

        Raises
        ------
        explain.feature_record.FeatureRecordError
            Naming every bad field.
        """
        values = validate_feature_record(record, self.record_features, self.registry)
        position = {name: i for i, name in enumerate(self.record_features)}
        sections = []
        for name, m in self.models.items():
            x = values[[position[f] for f in m.features]]
            sections.append(self._section(m, x, name))
        return advisory_prompt(
            prompt_id=prompt_id,
            child_id=str(child_id),
            snapshot_date=self.snapshot.date,
            purpose=purpose,
            issued_at=issued_at,
            models=sections,
        )

    def cohort(self, model: str, capacity: int) -> CohortList:
        """The team's top-``capacity`` children for ``model``, with their top reasons."""
        m = self.outcome(model)
        n = len(self.snapshot.child_ids)
        if capacity > n:
            raise ValueError(
                f"capacity {capacity} is more than the {n:,} children in the snapshot; ask "
                f"for at most {n:,}"
            )
        return cohort_list(
            m.served.model,
            m.X,
            self.snapshot.child_ids,
            int(capacity),
            m.explainer,
            self.registry,
            top_reasons=min(3, self.top_reasons),
            min_share=self.min_share,
            outcome=m.served.outcome,
            probability=m.probability,
        )

    def _section(self, m: ServedOutcome, x: np.ndarray, name: str):
        contributions = m.explainer(x[None, :])[0]
        return model_prompt(
            m.served,
            x,
            contributions,
            self.registry,
            m.sorted_probability,
            snapshot_date=self.snapshot.date,
            top_n=self.top_reasons,
            min_share=self.min_share,
            cohort_checked=True,
            explainer=m.explainer,
        )


# --------------------------------------------------------------------------- loading


def read_latest_snapshot(path: Path, date: str | None = None) -> Snapshot:
    """The newest snapshot of a feature table (Parquet), or the one of ``date``; one row per
    child.

    Raises
    ------
    NotReadyError
        If the file is missing or holds no snapshot (of ``date``).
    """
    path = Path(path)
    if not path.exists():
        raise NotReadyError(
            f"no feature table at {path}: build one with `lantern features DATA --out {path}` "
            "or point LANTERN_FEATURES at it"
        )
    dates = pq.read_table(path, columns=["snapshot_date"]).column(0).to_pandas()
    if dates.empty:
        raise NotReadyError(f"the feature table {path} has no rows; rebuild it")
    latest = dates.max() if date is None else pd.Timestamp(date)
    if date is not None and not (dates == latest).any():
        raise NotReadyError(f"the feature table {path} has no snapshot of {date}")
    frame = pd.read_parquet(path, filters=[("snapshot_date", "==", latest)])
    frame = frame.drop_duplicates("child_id").reset_index(drop=True)
    ids = frame["child_id"].astype(str).to_numpy()
    return Snapshot(
        date=pd.Timestamp(latest),
        child_ids=ids,
        rows={c: i for i, c in enumerate(ids)},
        frame=frame,
    )


def load_champion(name: str, tracking: TrackingSettings, exact: dict | None = None):
    """The champion of ``name`` (a :class:`models.versions.LoadedVersion`), as sealed by
    ``lantern promote``; or, given ``exact`` (``{"version", "sha256"}`` from a plan), that
    version with those files.

    Raises
    ------
    NotReadyError
        If ``name`` has no champion, or it (or the exact version) is not what was sealed.
    """
    from models.versions import UnsealedChampionError, load_exact
    from models.versions import load_champion as load

    try:
        if exact is not None:
            return load_exact(name, exact["version"], exact["sha256"], tracking)
        loaded = load(name, tracking, sealed=True)
    except (UnsealedChampionError, LookupError) as err:
        raise NotReadyError(str(err)) from None
    if loaded is None:
        raise NotReadyError(
            f"{name} has no champion to serve: train, audit and promote one "
            f"(`lantern train`, `lantern audit --model {name}`, `lantern promote --model {name}`)"
        )
    return loaded


def load_served(
    settings: ServiceSettings, *, registry: Registry | None = None, plan: str | None = None
) -> Served:
    """Load every served model's champion and the newest snapshot (see the module docstring),
    or exactly what ``plan`` (:meth:`Served.plan`) names.

    Raises
    ------
    NotReadyError
        If a model has no champion, the feature table is missing, or the plan's versions,
        files or snapshot are not there as planned.
    """
    from models.tracking import load_run_artifact_json

    registry = registry or default_registry()
    outcomes = load_outcomes()
    planned = json.loads(plan) if plan is not None else None
    snapshot = read_latest_snapshot(
        settings.features, planned["snapshot_date"] if planned else None
    )
    models: dict[str, ServedOutcome] = {}
    for name in settings.models:
        loaded = load_champion(
            name, settings.tracking, planned["models"][name] if planned else None
        )
        version, model = loaded.version, loaded.model
        missing = [f for f in model.features if f not in snapshot.frame]
        if missing:
            raise NotReadyError(
                f"the feature table {settings.features} lacks {missing}, which {name} "
                f"v{version.version} reads; rebuild it with the current `lantern features`"
            )
        X = as_matrix(snapshot.frame, model.features)
        probability = model.predict_proba(X)
        if np.isnan(probability).any():
            raise NotReadyError(
                f"the {name} model gave no probability for some children of the snapshot; "
                "check the feature table was built by this version of Lantern"
            )
        explainer = explainer_for(model.booster)
        explainer(X[:1])  # compile and warm the explainer before the first request
        models[name] = ServedOutcome(
            served=ServedModel(
                model=model,
                version=str(version.version),
                outcome=outcomes[name],
                trained_at=datetime.fromtimestamp(version.creation_timestamp / 1000, UTC)
                .date()
                .isoformat(),
                test_date=(version.tags or {}).get("lantern.test_date"),
            ),
            explainer=explainer,
            X=X,
            probability=probability,
            sorted_probability=np.sort(probability),
            run_id=version.run_id,
            card=load_run_artifact_json(version.run_id, MODEL_CARD, settings.tracking),
            digest=loaded.digest,
        )
    union = sorted({f for m in models.values() for f in m.features}, key=list(registry).index)
    return Served(
        snapshot=snapshot,
        models=models,
        registry=registry,
        loaded_at=datetime.now(UTC).isoformat(timespec="seconds"),
        top_reasons=settings.top_reasons,
        min_share=settings.reason_min_share,
        record_features=union,
        linkage=read_link_confidence(settings.linkage) if settings.linkage else None,
    )


def read_link_confidence(folder: Path) -> dict[str, list[tuple[str, float]]]:
    """Each child's agencies and lowest link confidence, from a linkage folder.

    Raises
    ------
    NotReadyError
        If the folder has no :data:`LINK_CONFIDENCE` (not written by ``lantern link``).
    """
    path = Path(folder) / LINK_CONFIDENCE
    if not path.exists():
        raise NotReadyError(
            f"no {LINK_CONFIDENCE} in {folder}: give the linkage folder `lantern link` wrote "
            "(DIR/linkage) for the extracts the features were built from, or no linkage"
        )
    table = pd.read_parquet(path, columns=["child_id", "source", "confidence"])
    out: dict[str, list[tuple[str, float]]] = {}
    for child, source, confidence in table.itertuples(index=False):
        out.setdefault(str(child), []).append((str(source), float(confidence)))
    return out


def champion_versions(settings: ServiceSettings) -> dict[str, str | None]:
    """Each served model's current champion version in the registry (cheap: no model load)."""
    from models.tracking import get_alias

    out = {}
    for name in settings.models:
        version = get_alias(name, "champion", settings.tracking)
        out[name] = None if version is None else str(version.version)
    return out
