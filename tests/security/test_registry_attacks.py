"""The registry as an attacker who can write it would try it, against the real service: a
champion alias moved outside ``lantern promote`` is refused, and a planted pickle never runs.

Uses the session's ``fleet`` (``tests/service_fixtures.py``), whose registry tests may change;
the champion is left as ``lantern promote`` chose it.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import httpx
from mlflow import MlflowClient
from service_fixtures import MODEL, champions, promote_version

from access.config import StoreSettings
from access.store import Store


class Trap:
    """Unpickling this writes a file: the proof that a pickle was loaded."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (Path(self.path).write_text, ("a pickle ran in the service",))


def plant(client: MlflowClient, version, proof: Path) -> int:
    """Replace every pickle of ``version``'s logged model with a :class:`Trap`."""
    logged = client.get_logged_model(version.source.removeprefix("models:/"))
    folder = Path(logged.artifact_location.removeprefix("file://"))
    pickles = list(folder.rglob("*.pkl"))
    for path in pickles:
        path.write_bytes(pickle.dumps(Trap(str(proof))))
    return len(pickles)


def test_an_alias_moved_outside_promote_is_refused_and_a_pickle_never_runs(fleet, tmp_path):
    service, home = fleet.polled, fleet.home
    client = MlflowClient(home.tracking_uri, home.tracking_uri)
    before = champions(home)
    other = client.get_model_version(MODEL, fleet.other_version())
    proof = tmp_path / "ran"
    assert plant(client, other, proof) > 0

    with httpx.Client(base_url=service.url, timeout=120) as http:
        serving = http.get("/model_card", headers=service.headers("auditor")).json()
    client.set_registered_model_alias(MODEL, "champion", other.version)  # not via promote
    try:
        with httpx.Client(base_url=service.url, timeout=120) as http:
            response = http.post("/reload", headers=service.headers("analyst"))
            served = http.get("/model_card", headers=service.headers("auditor"))
    finally:
        client.set_registered_model_alias(MODEL, "champion", before[MODEL])
    assert response.status_code == 200, response.text
    assert response.json()["reloaded"] is False
    assert "moved outside the promotion gate" in response.json()["reason"]
    assert served.json()[MODEL]["version"] == serving[MODEL]["version"], "still what it served"
    store = Store(StoreSettings(url=home.database_url))
    try:
        rows = [r for r in store.audit_rows() if r.request_id == response.headers["x-request-id"]]
    finally:
        store.close()
    assert [r.detail for r in rows][0] == "reload requested; nothing changed yet"
    assert [r.status for r in rows] == [None, 200], "the request logged before, the answer after"

    promote_version(home, MODEL, other.version, reason="test: the trap version, promoted")
    with httpx.Client(base_url=service.url, timeout=120) as http:
        reloaded = http.post("/reload", headers=service.headers("analyst"))
    assert reloaded.json()["reloaded"] is True, reloaded.text
    assert reloaded.json()["serving"][MODEL] == str(other.version)
    assert not proof.exists(), "the service loaded a pickle"
