"""Who may call what: the one permission map, read by the middleware, the service and the page.

Public paths answer without a key and are not audit-logged: the health probes are called
every few seconds by the platform and carry nothing about a child, and the page's static
files under ``/ui/`` are the same for everyone (the page then calls the API with the
user's key, and those calls are logged). Every other path needs a valid key and is denied
by default: a path missing from :data:`PERMISSIONS` is answered 404 by the middleware, never
by the application, so a new route is unreachable until it is given its roles here.
``/metrics`` needs an analyst's or auditor's key: BentoML labels its counts with each
request's raw path, which a caller chooses (a child's id in a URL would show there). The only
exceptions are BentoML's own API documentation (:data:`ANY_KEY_PATHS`), open to any valid
key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from access.roles import Role

__all__ = [
    "ANY_KEY_PATHS",
    "ANY_KEY_PREFIXES",
    "PERMISSIONS",
    "PUBLIC_PATHS",
    "PUBLIC_PREFIXES",
    "Decision",
    "authorise",
    "is_public",
    "normalise_path",
]


_P, _A, _U = Role.practitioner, Role.analyst, Role.auditor

PERMISSIONS: Mapping[str, frozenset[Role]] = {
    "/prompt": frozenset({_P, _A}),
    "/prompt_from_record": frozenset({_P, _A}),
    "/judgement": frozenset({_P, _A}),
    "/cohort": frozenset({_A}),
    "/reload": frozenset({_A}),
    "/ui/overview": frozenset({_A, _U}),
    "/audit_log": frozenset({_U}),
    "/model_card": frozenset({_P, _A, _U}),
    "/metrics": frozenset({_A, _U}),
}
"""Endpoint path -> the roles that may call it."""

ANY_KEY_PATHS: frozenset[str] = frozenset({"/", "/docs.json", "/schema.json"})
"""BentoML's API documentation page and specs: any valid key may read them."""

ANY_KEY_PREFIXES: tuple[str, ...] = ("/static_content/",)
"""The documentation page's own static files."""

PUBLIC_PATHS: frozenset[str] = frozenset({"/livez", "/readyz", "/healthz", "/ui"})
"""Paths answered without a key (and not audit-logged)."""

PUBLIC_PREFIXES: tuple[str, ...] = ("/ui/",)
"""Path prefixes answered without a key: the page's static files (less :data:`PERMISSIONS`)."""


def normalise_path(path: str) -> str:
    """The path as the permission map spells it: no repeated or trailing slashes."""
    parts = [p for p in path.split("/") if p]
    return "/" + "/".join(parts)


def is_public(path: str) -> bool:
    """Whether ``path`` is answered without a key (see the module's docstring for why)."""
    norm = normalise_path(path)
    if norm in PERMISSIONS:
        return False
    if norm in PUBLIC_PATHS:
        return True
    if ".." in norm.split("/"):
        return False
    return any(norm.startswith(prefix) for prefix in PUBLIC_PREFIXES)


@dataclass(frozen=True)
class Decision:
    """Whether a caller with a valid key may call a path, and if not, the words to say why.

    Attributes
    ----------
    allowed : bool
    detail : str
        Empty when allowed; else what to do.
    """

    allowed: bool
    detail: str = ""
    status: int = 403
    """The answer when not allowed: 403 for a known endpoint, 404 for any other path."""


def authorise(
    path: str, role: Role | str, permissions: Mapping[str, frozenset[Role]] = PERMISSIONS
) -> Decision:
    """May a key with ``role`` call ``path``? (Validity of the key is checked before.)

    Parameters
    ----------
    path : str
        The request path.
    role : Role or str
        The key's role.
    permissions : mapping, optional
        Endpoint path -> roles; default :data:`PERMISSIONS`.

    Returns
    -------
    Decision
        Not allowed, with status 404, for a path that is no endpoint.
    """
    norm = normalise_path(path)
    roles = permissions.get(norm)
    if roles is None:
        if norm in ANY_KEY_PATHS or (
            ".." not in norm.split("/") and norm.startswith(ANY_KEY_PREFIXES)
        ):
            return Decision(True)
        return Decision(
            False,
            f"Lantern has no endpoint {norm}; the API's endpoints are listed at /docs.json",
            status=404,
        )
    if role in roles:
        return Decision(True)
    open_to = ", ".join(sorted(roles))
    return Decision(
        False,
        f"the {role} role may not call {normalise_path(path)}; it is open to: {open_to}. "
        "Ask your Lantern administrator for a key with one of those roles if your work needs it",
    )
