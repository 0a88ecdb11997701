"""Fixtures shared by the serving tests.

The real service (``service_home``, ``live_service``) is ``tests/service_fixtures.py``'s; the
database fixtures (``pg_url``, ``sqlite_url``, ``store``) are ``tests/store_fixtures.py``'s.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
