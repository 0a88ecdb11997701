"""Running the project's notebooks in tests (imported by name, as ``conftest`` is not).

A notebook runs in a fresh ``ipykernel`` started from this virtualenv's Python (a kernelspec
written to a temporary folder, so no other ``python3`` kernel on the machine is picked up),
with Matplotlib's Agg backend, MLflow's telemetry and progress bars off, passive OpenMP
waiting, and no ``MLFLOW_*`` variable inherited from the test process. Parameters are
injected papermill-style, without papermill: assignments appended to the cell tagged
``parameters``, so they override its defaults.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import mlflow
import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
KERNEL = "lantern-tests"
CELL_TIMEOUT_S = 900
"""A guard against a hung kernel, not a timing assertion."""

KERNEL_ENV = {
    "MPLBACKEND": "Agg",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "BENTOML_DO_NOT_TRACK": "true",
    "OMP_WAIT_POLICY": "PASSIVE",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    "MLFLOW_LOGGING_LEVEL": "WARNING",
}
MLFLOW_URI_VARIABLES = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")

# The runs the tests make: a small synthetic partnership and few bootstrap replicates. One
# model keeps the folder quick (each model trains and is audited twice); the other runs the
# same code.
CHILDREN = 2_500
SEED = 11
BOOTSTRAP = 20
BOARD_MODEL = "serious_violence"
MODELS = [BOARD_MODEL]
FIRST_CHAMPION_REASON = (
    "Notebook test on a small synthetic partnership: too few children in each group for the "
    "fairness audit to check."
)


def write_kernelspec(folder: Path) -> Path:
    """A kernelspec named :data:`KERNEL` in ``folder`` that runs this interpreter."""
    spec = folder / KERNEL
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Lantern tests (project virtualenv)",
                "language": "python",
            }
        )
    )
    return folder


def kernel_manager(kernels: Path) -> AsyncKernelManager:
    """A kernel manager that knows only the kernelspecs in ``kernels``."""
    return AsyncKernelManager(
        kernel_name=KERNEL, kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels)])
    )


def parameters_cell(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The one cell tagged ``parameters``."""
    found = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(found) != 1:
        raise ValueError(f"expected one cell tagged 'parameters', found {len(found)}")
    return found[0]


def inject(nb: nbformat.NotebookNode, parameters: Mapping[str, Any]) -> nbformat.NotebookNode:
    """``nb`` with ``parameters`` assigned at the end of its parameters cell."""
    cell = parameters_cell(nb)
    lines = [f"{name} = {value!r}" for name, value in parameters.items()]
    cell.source = cell.source.rstrip("\n") + "\n\n# injected by the tests\n" + "\n".join(lines)
    return nb


def kernel_env() -> dict[str, str]:
    """The test process's environment without MLflow's URIs, plus :data:`KERNEL_ENV`."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    return {**inherited, **KERNEL_ENV}


def execute(
    name: str, parameters: Mapping[str, Any], *, kernels: Path, work: Path
) -> nbformat.NotebookNode:
    """Run ``notebooks/<name>`` with ``parameters`` in the working folder ``work``.

    Raises ``nbclient.exceptions.CellExecutionError`` (with the cell and traceback) if a cell
    fails.
    """
    nb = inject(nbformat.read(NOTEBOOKS / name, as_version=4), parameters)
    work.mkdir(parents=True, exist_ok=True)
    client = NotebookClient(
        nb,
        km=kernel_manager(kernels),
        timeout=CELL_TIMEOUT_S,
        resources={"metadata": {"path": str(work)}},
        # nbclient keeps IPython's history in memory only for kernels named python3
        extra_arguments=["--HistoryManager.hist_file=:memory:"],
    )
    try:
        client.execute(env=kernel_env())
    finally:
        nbformat.write(nb, work / f"executed-{name}")  # to read when a test fails
    return nb


def outputs(nb: nbformat.NotebookNode, kind: str = "stdout") -> list[str]:
    """Every ``stdout`` text, or every ``text/markdown`` or ``image/png`` display, in order."""
    found = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if kind == "stdout" and out.output_type == "stream" and out.name == "stdout":
                found.append(out.text)
            elif out.output_type in ("display_data", "execute_result") and kind in out.data:
                found.append(out.data[kind])
    return found


@contextmanager
def restored_mlflow_uris() -> Iterator[None]:
    """Put MLflow's global URIs and the variables it exports back as they were."""
    saved = {var: os.environ.pop(var, None) for var in MLFLOW_URI_VARIABLES}
    try:
        yield
    finally:
        mlflow.set_tracking_uri(None)
        mlflow.set_registry_uri(None)
        for var, value in saved.items():
            os.environ.pop(var, None)
            if value is not None:
                os.environ[var] = value


def artifact_paths(client, run_id: str, folder: str | None = None) -> list[str]:
    """Every artifact file of a run, recursively."""
    found = []
    for item in client.list_artifacts(run_id, folder):
        found += artifact_paths(client, run_id, item.path) if item.is_dir else [item.path]
    return sorted(found)


def store_state(settings, name: str) -> dict[str, Any]:
    """A registered model's aliases, and each version's tags, run tags and artifact files."""
    client = settings.client()
    versions = {}
    for found in client.search_model_versions(f"name = '{name}'"):
        version = client.get_model_version(name, found.version)
        versions[str(version.version)] = {
            "tags": dict(version.tags),
            "run_tags": dict(client.get_run(version.run_id).data.tags),
            "artifacts": artifact_paths(client, version.run_id),
        }
    return {"aliases": dict(client.get_registered_model(name).aliases), "versions": versions}
