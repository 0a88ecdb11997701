"""Served ``/prompt`` latency and throughput, beside the same prompts built in-process.

One run, one machine: the in-process figures call :meth:`serving.state.Served.prompt`
(both models predicted and explained, the prompt assembled); the HTTP figures add the
service around it (BentoML, key check, audit row, prompt row). Afterwards the audit table
must hold exactly one row per request sent.
"""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

PURPOSE = "benchmark: team around the child meeting"


def _percentiles(seconds: list[float]) -> tuple[float, float]:
    ms = np.asarray(seconds) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99))


def _concurrently(clients: int, per_client: int, call) -> float:
    """Requests per second with ``clients`` threads each making ``per_client`` calls."""
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        try:
            for i in range(per_client):
                call(k, i)
        except BaseException as err:  # reported below, after every thread has stopped
            errors.append(err)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise errors[0]
    return clients * per_client / elapsed


def bench_serving(
    data: Path, *, sequential: int = 400, clients: int = 16, per_client: int = 60
) -> list[dict]:
    """Build a served home over ``data`` (features already built), then measure.

    Returns rows of ``what``, ``value``, ``unit``, ``reference``, ``reference_value``,
    ``ratio`` and ``target``.
    """
    from serving.config import StoreSettings
    from serving.local import Home, LiveService, train_and_promote
    from serving.state import ServiceSettings, load_served
    from serving.store import Store
    from training.tracking import TrackingSettings

    data = Path(data)
    table = pd.read_parquet(data / "features.parquet")
    tracking = TrackingSettings(
        uri=f"sqlite:///{data / 'mlruns' / 'mlflow.db'}",
        artifact_root=data / "mlruns" / "artifacts",
    )
    (data / "mlruns").mkdir(exist_ok=True)
    train_and_promote(table, tracking, reason="benchmark")
    database_url = f"sqlite:///{data / 'lantern.db'}"
    store = Store(StoreSettings(url=database_url))
    key = store.create_key("bench", "practitioner").token
    latest = table["snapshot_date"].max()
    children = table.loc[table["snapshot_date"] == latest, "child_id"].astype(str).to_numpy()
    del table
    rng = np.random.default_rng(7)
    pick = rng.choice(children, size=sequential + clients * per_client)

    # In-process: the same prompts, no HTTP, no audit rows.
    settings = ServiceSettings(
        features=data / "features.parquet",
        tracking=tracking,
        store=StoreSettings(url=database_url),
        watch_seconds=0,
    )
    served = load_served(settings)

    def in_process(child: str) -> None:
        served.prompt(child, PURPOSE, prompt_id=str(uuid.uuid4()), issued_at=datetime.now(UTC))

    for child in pick[:20]:
        in_process(child)
    local = []
    for child in pick[:sequential]:
        start = time.perf_counter()
        in_process(child)
        local.append(time.perf_counter() - start)
    local_rate = _concurrently(
        clients, per_client, lambda k, i: in_process(pick[sequential + k * per_client + i])
    )

    # Over HTTP, against the real service.
    home = Home(
        folder=data,
        features=data / "features.parquet",
        tracking_uri=tracking.uri,
        database_url=database_url,
        keys={"practitioner": key},
        child_ids=list(children[:10]),
        snapshot_date=f"{latest:%Y-%m-%d}",
    )
    service = LiveService(home).start(timeout=600)
    before = len(store.audit_rows())
    sent = 0
    try:
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=service.url, headers=headers, timeout=30) as client:

            def post(child: str) -> None:
                r = client.post("/prompt", json={"child_id": child, "purpose": PURPOSE})
                r.raise_for_status()

            for child in pick[:20]:
                post(child)
            sent += 20
            remote = []
            for child in pick[:sequential]:
                start = time.perf_counter()
                post(child)
                remote.append(time.perf_counter() - start)
            sent += sequential
        pools = [
            httpx.Client(base_url=service.url, headers=headers, timeout=60) for _ in range(clients)
        ]

        def post_from(k: int, i: int) -> None:
            child = pick[sequential + k * per_client + i]
            r = pools[k].post("/prompt", json={"child_id": child, "purpose": PURPOSE})
            r.raise_for_status()

        remote_rate = _concurrently(clients, per_client, post_from)
        sent += clients * per_client
        for c in pools:
            c.close()
    finally:
        service.stop()
    logged = len(store.audit_rows()) - before
    store.close()

    p50, p99 = _percentiles(remote)
    l50, l99 = _percentiles(local)
    return [
        {
            "what": "/prompt p50, one client (both models explained)",
            "value": p50,
            "unit": "ms",
            "reference": "in-process Served.prompt p50",
            "reference_value": l50,
            "target": "< 10 ms",
        },
        {
            "what": "/prompt p99, one client",
            "value": p99,
            "unit": "ms",
            "reference": "in-process p99",
            "reference_value": l99,
            "target": "< 30 ms",
        },
        {
            "what": f"/prompt throughput, {clients} concurrent clients",
            "value": remote_rate,
            "unit": "prompts/s",
            "reference": f"in-process, {clients} threads",
            "reference_value": local_rate,
            "target": ">= 300 prompts/s",
        },
        {
            "what": "audit rows written per request sent",
            "value": logged / sent,
            "unit": f"({logged:,} rows / {sent:,} requests)",
            "reference": None,
            "reference_value": None,
            "target": "exactly 1",
        },
    ]
