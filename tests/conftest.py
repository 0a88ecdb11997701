"""What every test folder shares, and how the suite is split across pytest-xdist workers.

Fixtures (session-scoped: built once per worker process, then shared by every folder):

- ``small_partnership``: a small synthetic partnership (2,500 children, seed 11, biases
  off) with its ground truth; enough for both models to train in seconds.
- ``small_feature_table``: its feature table at the default (quarterly) snapshot dates.
- ``empty_store``: an empty, migrated MLflow sqlite file; a store copied from it is ready at
  once (MLflow's migrations take seconds).

These three are built once per session, not once per worker (:func:`built_once`): the first
worker to ask builds them in the session's shared temporary folder, under a file lock, and
the other reads what it wrote (the partnership and table as pickles, equal to the built ones).
- ``trained_store`` (``tests/service_fixtures.py``): both models trained and registered in
  a store, built once per session in the same way, for the service and governance tests to
  copy.
- the database fixtures (``store``, ``pg_url``, ``sqlite_url``): ``tests/store_fixtures.py``;
- the real service (``service_home``, ``live_service``): ``tests/service_fixtures.py``.

Tests must not change either in place: copy first.

Splitting the suite (``make test`` runs ``pytest -n 2``): every test belongs to a group
(:func:`group_of`) that runs whole in one worker, in the order written, so that tests
sharing an expensive fixture or a module's ordered state stay together:

- the modules that use the trained service, the governance store or the executed notebooks
  (:data:`MODULE_GROUPS`): ``service``, ``governance``, ``notebooks``;
- the tests of a module in :data:`BY_PARAMETER` that share a parameter id (``[3]``): one
  group per id, and one for its unparametrized tests;
- any other test: its module.

Groups are handed out in the order of :data:`FIRST`, then in collection order, so that
the longest groups start first and do not end the run alone (``--no-loadscope-reorder``
keeps this order). ``make test`` prints the ten slowest tests; a group that grows past a
few minutes belongs in :data:`FIRST`, or should be split.

OpenMP threads sleep rather than spin while they wait (``OMP_WAIT_POLICY=PASSIVE``, set
before LightGBM loads): spinning threads on a shared two-core machine can stall a fit.
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("BENTOML_DO_NOT_TRACK", "true")

import pandas as pd
import pytest
from shared_once import built_once, pickled_once

pytest_plugins = ("store_fixtures", "service_fixtures")

SMALL_CHILDREN = 2_500
SMALL_SEED = 11

SHARED_FIXTURES = ("service_home", "live_service", "fleet", "governance_store", "retrain_run")
"""Session fixtures too expensive to build in both workers: their users share a group."""

MODULE_GROUPS = {
    "tests/serving/test_service_fuzz.py": "service",
    "tests/serving/test_service_http.py": "service",
    "tests/serving/test_service_reload.py": "service",
    "tests/serving/test_serve_command.py": "service",
    "tests/serving/test_ui_browser.py": "service",
    "tests/serving/test_served_reasons.py": "service",
    "tests/serving/test_served_linkage.py": "service",
    "tests/security/test_attacks.py": "service",
    "tests/security/test_registry_attacks.py": "service",
    "tests/governance/test_datasheet.py": "governance",
    "tests/governance/test_governance_store.py": "governance",
    "tests/governance/test_overview_store.py": "governance",
    "tests/notebooks/test_notebooks.py": "notebooks",
    "tests/notebooks/test_quarter_api.py": "notebooks",
}
"""Modules whose tests use a :data:`SHARED_FIXTURES` fixture, and their group (checked at
collection: a new user of one of those fixtures must be listed here)."""

BY_PARAMETER = ("tests/training/test_injected_bias.py",)
"""Modules whose tests share only what their parameter (a seed) builds: the tests of one
parameter run together (its partnership is made once), the parameters in either worker."""

FIRST = (
    "service",
    "notebooks",
    "tests/training/test_cli_training.py",
    "governance",
    "tests/scale/test_dask_pipeline.py",
    "tests/linkage/test_link.py",
)
"""The longest groups, started first."""


def group_of(nodeid: str) -> str:
    """The xdist group of a test: its entry in :data:`MODULE_GROUPS`, its module and
    parameter id for a module in :data:`BY_PARAMETER`, else its module."""
    module = nodeid.split("::")[0]
    if module in BY_PARAMETER:
        parameter = nodeid.rpartition("[")[2].rstrip("]") if nodeid.endswith("]") else None
        return f"{module}[{parameter}]" if parameter else f"{module}::unparametrized"
    return MODULE_GROUPS.get(module, module)


@pytest.fixture(scope="session")
def small_partnership(tmp_path_factory: pytest.TempPathFactory):
    """A small synthetic partnership (biases off), with its ground truth."""
    from features.synth import SynthConfig, generate

    return pickled_once(
        tmp_path_factory,
        "small_partnership",
        lambda: generate(SynthConfig(children=SMALL_CHILDREN, seed=SMALL_SEED)),
    )


@pytest.fixture(scope="session")
def small_feature_table(small_partnership, tmp_path_factory) -> pd.DataFrame:
    """The small partnership's feature table at the default (quarterly) snapshot dates."""
    from features.build import build_features, default_snapshot_dates
    from features.pointintime import index_records

    def make() -> pd.DataFrame:
        records = index_records(small_partnership.tables)
        return build_features(records, default_snapshot_dates(records))

    return pickled_once(tmp_path_factory, "small_feature_table", make)


@pytest.fixture(scope="session")
def empty_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty, migrated sqlite store: copying it is much quicker than migrating anew."""

    def migrate(folder: Path) -> None:
        from mlflow import MlflowClient

        uri = f"sqlite:///{folder / 'mlflow.db'}"
        MlflowClient(uri, uri).search_registered_models()

    return built_once(tmp_path_factory, "empty_store", migrate) / "mlflow.db"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Check that the users of shared fixtures are grouped, then put the longest groups
    first, keeping each group's tests in the order written."""
    strays = sorted(
        {
            item.nodeid.split("::")[0]
            for item in items
            if set(SHARED_FIXTURES) & set(item.fixturenames)
            and item.nodeid.split("::")[0] not in MODULE_GROUPS
        }
    )
    if strays:
        raise pytest.UsageError(
            f"{', '.join(strays)} use a fixture of {SHARED_FIXTURES} but have no group: add "
            "them to MODULE_GROUPS in tests/conftest.py, so that one worker builds it"
        )
    rank = {group: i for i, group in enumerate(FIRST)}
    order: dict[str, int] = {}
    for item in items:
        order.setdefault(group_of(item.nodeid), len(order))

    def key(pair: tuple[int, pytest.Item]) -> tuple[int, int, int]:
        position, item = pair
        group = group_of(item.nodeid)
        return (rank.get(group, len(rank)), order[group], position)

    items[:] = [item for _, item in sorted(enumerate(items), key=key)]


def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """Schedule whole groups (:func:`group_of`) on one worker each.

    pytest-xdist's own ``--dist loadgroup`` marks groups by rewriting test ids, which
    pytest 9 no longer allows; this scheduler reads the group from the id instead.
    """
    from xdist.scheduler import LoadScopeScheduling

    class GroupScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return group_of(nodeid)

    return GroupScheduling(config, log)
