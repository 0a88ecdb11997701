"""Checking the stored audit log against its chain (``lantern audit-log verify``)."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select

from access.chain import ChainCheck, check_chain
from access.schema import audit_log, cohort_children, retention_log
from access.store import Store

__all__ = ["verify_audit_log"]


def verify_audit_log(store: Store) -> ChainCheck:
    """Check every audit row's chain value, oldest first, with the store's secret.

    Returns
    -------
    ChainCheck
        Whole, or the id of the first row that was changed, deleted after, or inserted out
        of order.

    Raises
    ------
    access.secret.SecretError
        If the secret is missing or unusable.
    """
    secret = store.secret
    with store.reading() as conn:
        anchors = [
            (row.chain_id, row.chain_mac)
            for row in conn.execute(
                select(retention_log.c.chain_id, retention_log.c.chain_mac).where(
                    retention_log.c.chain_mac.is_not(None)
                )
            )
        ]
        children: dict[str, list[str]] = defaultdict(list)
        for row in conn.execute(
            select(cohort_children.c.request_id, cohort_children.c.child_id).order_by(
                cohort_children.c.request_id, cohort_children.c.rank
            )
        ):
            children[row.request_id].append(row.child_id)
        rows = conn.execute(select(audit_log).order_by(audit_log.c.id)).mappings()
        return check_chain(secret, rows, children, anchors)
