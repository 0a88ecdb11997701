"""The reasons the real service serves (``bentoml serve`` over HTTP): for the ten
highest-ranked children of each model and twenty at random, no reason runs against its
declared direction, says nothing, is not recorded or is age, and every section says what
would change wherever an actionable record is worse than typical."""

from __future__ import annotations

import math

import httpx
import numpy as np
import pandas as pd
import pytest
from service_fixtures import MODELS

from explain.changes import changed_records
from explain.reasons import MIN_SHARE, reads_against, says_nothing
from features.registry import default_registry
from training.config import load_training_settings

PURPOSE = "team around the child meeting"
REGISTRY = default_registry()
FEATURES = load_training_settings().features.select(REGISTRY)
"""The features the test service's models were trained on (the package's settings)."""


@pytest.fixture(scope="module")
def served(live_service, service_home):
    """Each sampled child's prompt as served, with their feature values."""
    table = pd.read_parquet(service_home.features)
    latest = table[table["snapshot_date"] == table["snapshot_date"].max()].set_index("child_id")
    headers = live_service.headers("practitioner")
    with httpx.Client(base_url=live_service.url, timeout=120) as client:
        chosen = []
        for model in MODELS:
            answer = client.post(
                "/cohort",
                json={"model": model, "capacity": 10, "purpose": PURPOSE},
                headers=live_service.headers("analyst"),
            )
            assert answer.status_code == 200, answer.text
            chosen += [c["child_id"] for c in answer.json()["children"]]
        rng = np.random.default_rng(0)
        others = sorted(set(service_home.child_ids) - set(chosen))
        chosen += list(rng.choice(others, 20, replace=False))
        prompts = {}
        for child in dict.fromkeys(chosen):
            answer = client.post(
                "/prompt", json={"child_id": child, "purpose": PURPOSE}, headers=headers
            )
            assert answer.status_code == 200, answer.text
            prompts[child] = answer.json()
    return prompts, latest


def test_no_served_reason_is_contrary_empty_unrecorded_or_age(served):
    prompts, latest = served
    checked = 0
    for child, prompt in prompts.items():
        for section in prompt["models"]:
            for reason in section["reasons"] + section["protective"]:
                spec = REGISTRY[reason["feature"]]
                value, weight = reason["value"], reason["weight"]
                where = (child, section["model"], reason["sentence"])
                assert not spec.context, where
                assert value is not None and not says_nothing(spec, value), where
                assert not reads_against(spec, value, weight), where
                assert reason["share"] >= MIN_SHARE - 1e-4, where
                assert value == pytest.approx(float(latest.loc[child, spec.name])), where
                checked += 1
    assert checked >= 100  # the sample's sections name enough reasons to have found one


def test_each_section_says_what_would_change_wherever_a_record_can(served):
    prompts, latest = served
    lines = 0
    for child, prompt in prompts.items():
        x = latest.loc[child, FEATURES].to_numpy(dtype=float)
        expected = set(changed_records(x, FEATURES, REGISTRY))
        for section in prompt["models"]:
            shown = {c["lever"] for c in section["what_would_change"]}
            assert shown == expected, (child, section["model"])
            for change in section["what_would_change"]:
                assert change["sentence"].startswith("If the records showed ")
                assert "not a promise" in change["note"]
                assert 0 <= change["probability"] <= 1 and not math.isnan(change["probability"])
            lines += len(shown)
    assert lines >= 20
