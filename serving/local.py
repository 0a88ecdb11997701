"""Run Lantern's service on this machine in a subprocess: for tests, benchmarks and demos.

:class:`Home` names where a service's feature table, MLflow registry and audit store live;
:class:`LiveService` starts ``bentoml serve serving.service:Lantern`` over it on a free port
and waits until it is ready; :func:`train_and_promote` puts champions in a registry.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml

REPO = Path(__file__).resolve().parents[1]
MODELS = ("exclusion_neet", "serious_violence")
ROLES = ("practitioner", "analyst", "auditor")


@dataclass
class Home:
    """Where a test service's data, registry and store live."""

    folder: Path
    features: Path
    tracking_uri: str
    database_url: str
    keys: dict[str, str]
    child_ids: list[str]
    snapshot_date: str
    limits: dict | None = None
    """The store's request limits (:class:`access.limits.LimitSettings` fields), if not the
    defaults."""

    def env(self, **extra: str) -> dict[str, str]:
        """The environment a service (or a ``lantern`` command) on this home runs with."""
        inherited = {k: v for k, v in os.environ.items() if k != "LANTERN_SERVICE_CONFIG"}
        env = {
            **inherited,
            "MLFLOW_TRACKING_URI": self.tracking_uri,
            "LANTERN_FEATURES": str(self.features),
            "LANTERN_DATABASE_URL": self.database_url,
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "BENTOML_DO_NOT_TRACK": "true",
            "OMP_WAIT_POLICY": "PASSIVE",
            "MLFLOW_LOGGING_LEVEL": "WARNING",
            "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
            **extra,
        }
        return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveService:
    """``bentoml serve serving.service:Lantern`` in a subprocess, on a free port."""

    home: Home
    port: int = field(default_factory=free_port)
    watch_seconds: float = 0
    workers: int | None = None
    audit_writer: str = "auto"
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 180, attempts: int = 3) -> LiveService:
        """Start the service and wait until it answers ``/readyz`` on its own port.

        A free port can be taken by another process between choosing it and binding it
        (tests run side by side): if the server cannot bind, it starts again on another
        port, up to ``attempts`` times. A ready answer counts only once this server's own
        processes listen on the port, so another server's answer is never taken for it.
        """
        for attempt in range(attempts):
            if self._start_once(timeout):
                return self
            if attempt + 1 < attempts:
                self.port = free_port()
        raise RuntimeError(
            f"the service could not bind a free port in {attempts} tries:\n"
            f"{self.log.read_text()[-3000:]}"
        )

    def _start_once(self, timeout: float) -> bool:
        """Start on :attr:`port`; True once ready, False if the port was taken."""
        config = self.home.folder / f"service-{self.port}.yaml"
        store = {"url": self.home.database_url, "audit_writer": self.audit_writer}
        if self.home.limits is not None:
            store["limits"] = self.home.limits
        settings = {
            "features": str(self.home.features),
            "watch_seconds": self.watch_seconds,
            "tracking": {"uri": self.home.tracking_uri},
            "store": store,
        }
        if self.workers:
            settings["workers"] = self.workers
        config.write_text(yaml.safe_dump(settings, sort_keys=False))
        self.log = self.home.folder / f"service-{self.port}.log"
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bentoml",
                "serve",
                "serving.service:Lantern",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            cwd=REPO,
            env=self.home.env(LANTERN_SERVICE_CONFIG=str(config)),
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                text = self.log.read_text()
                if "address already in use" in text.lower():
                    return False
                raise RuntimeError(f"the service exited early:\n{text[-3000:]}")
            try:
                ready = httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200
            except httpx.HTTPError:
                ready = False
            if ready and self._listens():
                return True
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(
            f"the service was not ready in {timeout} s:\n{self.log.read_text()[-3000:]}"
        )

    def _listens(self) -> bool:
        """Whether one of this server's processes listens on :attr:`port`."""
        import psutil

        try:
            parent = psutil.Process(self.process.pid)
            processes = [parent, *parent.children(recursive=True)]
        except psutil.NoSuchProcess:
            return False
        for process in processes:
            try:
                for conn in process.net_connections(kind="tcp"):
                    if conn.status == psutil.CONN_LISTEN and conn.laddr.port == self.port:
                        return True
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        return False

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def headers(self, role: str) -> dict[str, str]:
        """The Authorization header of the test key for ``role``."""
        return {"Authorization": f"Bearer {self.home.keys[role]}"}

    def audit_rows(self) -> list[dict]:
        """Every audit row the service wrote, read straight from the database."""
        from access.config import StoreSettings
        from access.store import Store

        store = Store(StoreSettings(url=self.home.database_url))
        try:
            return [r.as_dict() for r in store.audit_rows()]
        finally:
            store.close()
