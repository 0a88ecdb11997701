"""Build the feature table on a Dask cluster: one task per snapshot date.

Snapshots are independent given the indexed records, so each one is built in a worker, from
that worker's own copy of the records: shipped once per worker (``client.scatter``) when the
caller holds them, or read and validated from the extracts by each worker when given a
folder, so the client never holds the partnership. The table is the one
:func:`features.build.build_features` makes (rows in the same order within a snapshot),
returned as a Dask DataFrame with one partition per snapshot date, or written as a Parquet
dataset: a folder with one file per snapshot, which ``pandas.read_parquet`` reads whole.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from features.build import default_snapshot_dates, label_column, snapshot_dates, snapshot_frame
from features.outcomes import Outcomes, label, load_outcomes, outcome_dates
from features.pointintime import AsOf, Records, index_records
from features.registry import Registry, default_registry

if TYPE_CHECKING:
    import dask.dataframe as dd
    from distributed import Client

Dates = Iterable[pd.Timestamp] | Callable[[Records], Sequence[pd.Timestamp]]
"""Snapshot dates, or a rule that gives them from the records (run in a worker)."""


class ClusterSettings(BaseModel):
    """The Dask cluster to run on: a running scheduler's address, or a LocalCluster.

    Attributes
    ----------
    scheduler : str, optional
        Address of a running scheduler (``tcp://host:8786``), used as it is; its workers
        must see the same files as this process. None: start a LocalCluster.
    connect_timeout : float
        Seconds to wait for ``scheduler`` to answer.
    n_workers, threads_per_worker, processes, memory_limit
        The LocalCluster's shape (ignored with ``scheduler``).
    """

    model_config = ConfigDict(extra="forbid")
    scheduler: str | None = None
    connect_timeout: float = Field(30.0, gt=0)
    n_workers: int = Field(2, ge=1)
    threads_per_worker: int = Field(1, ge=1)
    processes: bool = True
    memory_limit: str = "auto"


@contextmanager
def open_client(settings: ClusterSettings | None = None) -> Iterator[Client]:
    """A Dask client for ``settings``; a LocalCluster it starts is closed on exit.

    A cluster given by address is left running: only the client is closed.
    """
    from distributed import Client, LocalCluster

    settings = settings or ClusterSettings()
    if settings.scheduler:
        try:
            client = Client(settings.scheduler, timeout=settings.connect_timeout)
        except OSError as err:
            raise ConnectionError(
                f"no Dask scheduler answered at {settings.scheduler!r} ({err}); start one "
                "(`dask scheduler`) or leave --scheduler out to use a local cluster"
            ) from err
        with client:
            yield client
        return
    with (
        LocalCluster(
            n_workers=settings.n_workers,
            threads_per_worker=settings.threads_per_worker,
            processes=settings.processes,
            memory_limit=settings.memory_limit,
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def current_client(client: Client | None) -> Client:
    """``client``, or the Dask client already running in this process."""
    if client is not None:
        return client
    from distributed import get_client

    try:
        return get_client()
    except ValueError:
        raise ValueError(
            "no Dask client: pass client=, or open one first (features.distributed.open_client)"
        ) from None


@dataclass(frozen=True)
class _WorkerRecords:
    """What a worker needs to build any snapshot: the records and each outcome's events."""

    records: Records
    events: dict[str, pd.DataFrame]
    registry: Registry
    outcomes: Outcomes
    observed_until: pd.Timestamp


def _prepare(
    records: Records | str,
    registry: Registry | None,
    outcomes: Outcomes,
    observed_until: pd.Timestamp | None,
) -> _WorkerRecords:
    if not isinstance(records, Records):
        from features.contract import load_extracts

        records = index_records(load_extracts(records).tables())
    return _WorkerRecords(
        records=records,
        events={name: outcome_dates(records, outcome) for name, outcome in outcomes.items()},
        registry=default_registry() if registry is None else registry,
        outcomes=outcomes,
        observed_until=pd.Timestamp(observed_until or records.data_end()),
    )


def dates_rule(
    start: pd.Timestamp | None = None, frequency: str = "quarterly"
) -> Callable[[Records], list[pd.Timestamp]]:
    """The snapshot dates ``lantern features`` uses, as a rule a worker applies to the records:
    from ``start`` (default: a year after the records begin) to their end."""
    if start is None:
        return partial(default_snapshot_dates, frequency=frequency)
    return partial(_dates_from, pd.Timestamp(start), frequency)


def _dates_from(start: pd.Timestamp, frequency: str, records: Records) -> list[pd.Timestamp]:
    return snapshot_dates(start, records.data_end(), frequency)


def _dates(prepared: _WorkerRecords, dates: Dates) -> list[pd.Timestamp]:
    chosen = dates(prepared.records) if callable(dates) else dates
    return [pd.Timestamp(t) for t in chosen]


def _snapshot(prepared: _WorkerRecords, t: pd.Timestamp) -> pd.DataFrame:
    """One snapshot's rows, as :func:`features.build.build_features` makes them."""
    records = prepared.records
    asof = AsOf(records, t)
    frame = snapshot_frame(asof, prepared.registry)
    for name, outcome in prepared.outcomes.items():
        frame[label_column(name)] = label(
            prepared.events[name],
            asof.cohort,
            t,
            outcome.window_months,
            prepared.observed_until,
            records.n_children,
        )
    return frame


def _write_snapshot(prepared: _WorkerRecords, t: pd.Timestamp, folder: str) -> str:
    path = Path(folder) / snapshot_file(t)
    _snapshot(prepared, t).to_parquet(path, index=False)
    return str(path)


def snapshot_file(t: pd.Timestamp) -> str:
    """The dataset file holding snapshot ``t`` (names sort in date order)."""
    return f"snapshot-{pd.Timestamp(t):%Y-%m-%d}.parquet"


def build_features_dask(
    records_or_path: Records | str | Path,
    dates: Dates,
    client: Client | None = None,
    *,
    registry: Registry | None = None,
    outcomes: Outcomes | None = None,
    observed_until: pd.Timestamp | None = None,
    out: Path | None = None,
    progress: Callable[[pd.Timestamp], None] | None = None,
) -> dd.DataFrame:
    """Build the feature table on a Dask cluster, one task per snapshot date.

    Parameters
    ----------
    records_or_path : Records or path
        Indexed records (shipped once to each worker), or a folder of extracts that each
        worker loads and validates itself (the workers must see the folder).
    dates : iterable of pd.Timestamp, or callable
        Snapshot dates, or a function of the records giving them (e.g.
        :func:`features.build.default_snapshot_dates`), run in a worker.
    client : distributed.Client, optional
        Default: the client already running in this process.
    registry, outcomes, observed_until
        As for :func:`features.build.build_features`.
    out : path, optional
        Write a Parquet dataset here (a folder, one file per snapshot), all or nothing,
        and return the table read from it. Default: keep the snapshots in the workers.
    progress : callable, optional
        Called with each snapshot date as it is done.

    Returns
    -------
    dask.dataframe.DataFrame
        One partition per snapshot date, in date order; the same rows and values as
        :func:`features.build.build_features`.

    Raises
    ------
    ValueError
        With no snapshot dates, or an ``out`` that is not a ``.parquet`` folder name.
    """
    import dask.dataframe as dd
    from distributed import as_completed

    if out is not None and Path(out).suffix != ".parquet":
        raise ValueError(
            f"the dask engine writes a Parquet dataset (a folder of one file per snapshot), "
            f"not {Path(out).name!r}: give an output name ending in .parquet, or use the "
            "pandas engine for CSV"
        )
    client = current_client(client)
    outcomes = outcomes or load_outcomes()
    workers = sorted(client.scheduler_info()["workers"])
    if isinstance(records_or_path, Records):
        source = client.scatter(records_or_path, broadcast=True, hash=False)
    else:
        source = str(Path(records_or_path).resolve())
    prepared = [
        client.submit(
            _prepare,
            source,
            registry,
            outcomes,
            observed_until,
            workers=[w],
            allow_other_workers=False,
            pure=False,
        )
        for w in workers
    ]
    chosen = client.submit(_dates, prepared[0], dates, workers=[workers[0]]).result()
    if not chosen:
        raise ValueError("no snapshot dates: the records cover no snapshot date")
    folder = staging = None
    if out is not None:
        folder = Path(out).resolve()
        staging = folder.with_name(f".{folder.name}.{uuid.uuid4().hex[:8]}.partial")
        staging.mkdir(parents=True)
    try:
        task, args = (_snapshot, ()) if staging is None else (_write_snapshot, (str(staging),))
        futures = []
        for i, t in enumerate(chosen):
            futures.append(
                client.submit(
                    task,
                    prepared[i % len(workers)],
                    t,
                    *args,
                    workers=[workers[i % len(workers)]],
                    allow_other_workers=False,
                    pure=False,
                )
            )
        when = {f.key: t for f, t in zip(futures, chosen, strict=True)}
        for done in as_completed(futures):
            done.result()
            if progress:
                progress(when[done.key])
        if staging is not None:
            _replace(staging, folder)
            staging = None
            return read_features_dask(folder)
        meta = client.submit(lambda frame: frame.iloc[:0], futures[0]).result()
        return dd.from_delayed(futures, meta=meta, verify_meta=False)
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        del prepared


def read_features_dask(folder: Path) -> dd.DataFrame:
    """A Parquet feature dataset (or one file) as a Dask DataFrame, one partition per file,
    with the column types pandas reads (strings stay pandas' ``str``)."""
    import dask
    import dask.dataframe as dd

    folder = Path(folder)
    files = sorted(folder.glob("*.parquet")) if folder.is_dir() else [folder]
    if not files:
        raise FileNotFoundError(
            f"{folder} holds no .parquet files: build the features first (`lantern features`)"
        )
    with dask.config.set({"dataframe.convert-string": False}):
        return dd.read_parquet([str(f) for f in files])


def _replace(staging: Path, folder: Path) -> None:
    """Move the finished dataset into place; whatever was at ``folder`` goes only after."""
    old = None
    if folder.exists() or folder.is_symlink():
        old = folder.with_name(f".{folder.name}.{uuid.uuid4().hex[:8]}.old")
        folder.rename(old)
    staging.rename(folder)
    if old is not None:
        if old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
        else:
            old.unlink(missing_ok=True)
