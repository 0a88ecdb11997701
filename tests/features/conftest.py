"""Fixtures for the feature tests: one small synthetic partnership, generated once per session.

Tests must not change the partnership's tables in place: copy a table before editing it.
"""

from __future__ import annotations

import pandas as pd
import pytest
from feature_fixtures import SYNTH_CHILDREN, SYNTH_SEED

from features.pointintime import Records, index_records
from features.synth import Partnership, SynthConfig, generate


@pytest.fixture(scope="session")
def partnership() -> Partnership:
    """A small synthetic partnership (biases off), with its ground truth."""
    return generate(SynthConfig(children=SYNTH_CHILDREN, seed=SYNTH_SEED))


@pytest.fixture(scope="session")
def records(partnership: Partnership) -> Records:
    """The partnership's tables, indexed."""
    return index_records(partnership.tables)


@pytest.fixture(scope="session")
def snapshot(partnership: Partnership) -> pd.Timestamp:
    """A snapshot date inside the records, with years of records before and after it."""
    return partnership.anchors[2]
