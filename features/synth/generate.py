"""Generate a synthetic partnership and write it: extracts, and the ground truth beside them."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from features.registry import default_registry
from features.synth.config import SynthConfig
from features.synth.population import Population, make_population
from features.synth.simulate import Simulation

EXTRACTS = "extracts"
GROUND_TRUTH = "ground_truth"


@dataclass
class Partnership:
    """A generated partnership.

    Attributes
    ----------
    tables : dict of str to pd.DataFrame
        The extracts, in the data contract (what a partnership would hold).
    ground_truth : pd.DataFrame
        For every child at every annual anchor: the exact probability of each true and
        recorded outcome in the next 12 months, and the draws. Never part of the extracts.
    hidden : pd.DataFrame
        Each child's latent traits (for the calibration report and research only).
    config : SynthConfig
        What was asked for.
    """

    tables: dict[str, pd.DataFrame]
    ground_truth: pd.DataFrame
    hidden: pd.DataFrame
    config: SynthConfig

    @property
    def anchors(self) -> list[pd.Timestamp]:
        """The annual anchor dates with ground truth."""
        return sorted(self.ground_truth["anchor_date"].unique())


def generate(config: SynthConfig, progress=None) -> Partnership:
    """Generate a partnership deterministically from ``config.seed``.

    Parameters
    ----------
    config : SynthConfig
        Size, period, seed, biases and the targets and mechanics files.
    progress : callable, optional
        Called with ``(months_done, months_total)`` as the simulation runs.

    Returns
    -------
    Partnership
    """
    rng = np.random.default_rng(config.seed)
    targets, mech = config.targets(), config.mechanics()
    pop = make_population(config, targets, mech, rng)
    sim = Simulation(pop, config, targets, mech, default_registry(), rng)
    sim.social_care_history()
    sim.exclusion_history()
    sim.initial_census()
    for k in range(sim.n_steps):
        if k % 12 == 0:
            sim.anchor(k)
        sim.step(k)
        if progress:
            progress(k + 1, sim.n_steps)
    return Partnership(
        tables=sim.tables(),
        ground_truth=pd.concat(sim.truth, ignore_index=True),
        hidden=_hidden_traits(pop, sim),
        config=config,
    )


def _hidden_traits(pop: Population, sim: Simulation) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "child_id": pop.child_id,
            "family": pop.family,
            "peer_group": pop.peer_group,
            "high_risk_area": pop.high_risk_area[pop.area],
            "area_deprivation": pop.area_deprivation[pop.area],
            "area_crime": pop.area_crime[pop.area],
            "adversity": pop.adversity,
            "mental_health": pop.mental_health,
            "exploitation_base": pop.exploitation_base,
            "exploitation_end": sim.exploitation(sim.n_steps - 1),
        }
    )


def write_partnership(partnership: Partnership, out: Path, *, format: str = "parquet") -> Path:
    """Write the extracts to ``out/extracts`` and the ground truth to ``out/ground_truth``.

    The extracts are validated against the contract first and written atomically; the ground
    truth stays outside them so that nothing downstream can read it by mistake.
    """
    from features.contract import validate_tables, write_extracts

    problems = validate_tables(partnership.tables)
    if problems:
        listed = "\n".join(str(p) for p in problems[:20])
        raise RuntimeError(f"the generator produced records that break the contract:\n{listed}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_extracts(partnership.tables, out / EXTRACTS, format=format, validate=False)
    truth = out / GROUND_TRUTH
    staging = out / f".{GROUND_TRUTH}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    partnership.ground_truth.to_parquet(staging / "outcome_probabilities.parquet", index=False)
    partnership.hidden.to_parquet(staging / "hidden_traits.parquet", index=False)
    (staging / "config.json").write_text(
        json.dumps(partnership.config.model_dump(mode="json"), indent=2)
    )
    shutil.rmtree(truth, ignore_errors=True)
    staging.rename(truth)
    return out
