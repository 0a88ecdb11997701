"""A service given the linkage (``--linkage DIR/linkage``) says in each prompt how
confidently the child's records were linked; without it, or for a child it does not list,
the prompt says nothing of linkage. The served state is loaded in this process from the
shared trained store (the HTTP layer serves ``AdvisoryPrompt.to_dict`` as it is)."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest
from service_fixtures import _forget_tracking, _tracking

from serving.state import NotReadyError, ServiceSettings, load_served


@pytest.fixture
def settings(service_home):
    yield lambda **extra: ServiceSettings(
        features=service_home.features, tracking=_tracking(service_home), **extra
    )
    _forget_tracking()


def test_a_prompt_names_the_agency_linked_with_lower_confidence(service_home, settings, tmp_path):
    first, second = service_home.child_ids[:2]
    pd.DataFrame(
        {
            "child_id": [first, first, second],
            "source": ["school", "police", "school"],
            "confidence": [1.0, 0.91, 0.999],
        }
    ).to_parquet(tmp_path / "confidence.parquet", index=False)
    served = load_served(settings(linkage=tmp_path))
    now = datetime.now(UTC)
    note = served.prompt(first, "test", prompt_id="p1", issued_at=now).to_dict()["linkage"]
    assert note["lowest"] == {"agency": "police", "confidence": 0.91}
    assert (
        "The police record was linked to this child with lower confidence (91%)"
        in (note["sentences"][1])
    )
    quiet = served.prompt(second, "test", prompt_id="p2", issued_at=now).to_dict()["linkage"]
    assert quiet["lowest"] is None
    third = service_home.child_ids[2]
    assert served.prompt(third, "test", prompt_id="p3", issued_at=now).linkage is None


def test_without_the_linkage_a_prompt_says_nothing_of_it_and_a_wrong_folder_is_refused(
    service_home, settings, tmp_path
):
    served = load_served(settings())
    child = service_home.child_ids[0]
    prompt = served.prompt(child, "test", prompt_id="p", issued_at=datetime.now(UTC))
    assert prompt.to_dict()["linkage"] is None
    with pytest.raises(NotReadyError, match="no confidence.parquet in .*lantern link"):
        load_served(settings(linkage=tmp_path))
