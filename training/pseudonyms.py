"""Row keys for the rows a training run logs: not a child's id, and not linkable to one.

A run logs its test rows (and, on synthetic data, every labelled row) so that later models
are compared and audited on exactly those rows. They carry a ``row_key`` in place of the
``child_id``: an HMAC of the id under a key made for the run and never stored, so one child's
rows share a key within the run (the audit's bootstrap resamples children whole) while no one,
Lantern included, can tell from a key whose rows they are. The rows still hold each child's
features and audit columns, so the MLflow store is kept like the feature table.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

import pandas as pd

__all__ = ["ROW_KEY", "new_run_key", "pseudonymised"]

ROW_KEY = "row_key"
"""The column that takes the place of ``child_id`` in logged rows."""


def new_run_key() -> bytes:
    """A fresh random key for one run's row keys (keep it in memory only)."""
    return secrets.token_bytes(32)


def pseudonymised(frame: pd.DataFrame, key: bytes) -> pd.DataFrame:
    """``frame`` with its ``child_id`` column replaced, in place, by :data:`ROW_KEY`."""
    ids = frame["child_id"].astype(str)
    keys = [hmac.new(key, c.encode(), hashlib.sha256).hexdigest()[:20] for c in ids]
    out = frame.copy()
    out.insert(out.columns.get_loc("child_id"), ROW_KEY, keys)
    return out.drop(columns="child_id")
