"""``lantern serve``: start the service (BentoML) on this machine, optionally with a demo key."""

from __future__ import annotations

import os
import shlex
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from lantern.commands import clean_leftovers, make_console

console = make_console()


def serve(
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 3000,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    features: Annotated[
        Path | None,
        typer.Option(
            help="Feature table to serve (default $LANTERN_FEATURES or "
            "data/partnership/linked/features.parquet)."
        ),
    ] = None,
    linkage: Annotated[
        Path | None,
        typer.Option(
            help="The linkage folder (lantern link's DIR/linkage) of the extracts the features "
            "came from: each prompt says how confidently the child's records were linked "
            "(default $LANTERN_LINKAGE)."
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(help="Service settings YAML (see serving.state.ServiceSettings)."),
    ] = None,
    demo_key: Annotated[
        bool,
        typer.Option(
            "--demo-key",
            help="Create a practitioner key for a demo and print it with an example request.",
        ),
    ] = False,
) -> None:
    """Serve explained advisory prompts, the practitioner page (/ui/) and the API.

    Every request needs an API key (`lantern keys create`); every call is audit-logged.
    """
    from serving.state import (
        CONFIG_VARIABLE,
        FEATURES_VARIABLE,
        LINKAGE_VARIABLE,
        load_service_settings,
    )

    if config is not None:
        os.environ[CONFIG_VARIABLE] = str(config.absolute())
    if features is not None:
        os.environ[FEATURES_VARIABLE] = str(features.absolute())
    if linkage is not None:
        os.environ[LINKAGE_VARIABLE] = str(linkage.absolute())
    try:
        settings = load_service_settings()
    except ValueError as err:
        console.print(f"[red]{err}[/red]")
        raise typer.Exit(code=2) from None
    clean_leftovers(settings.tracking, console)
    url = f"http://{host}:{port}"
    if demo_key:
        from access.store import Store

        store = Store(settings.store)
        name = f"demo-{datetime.now(UTC):%Y%m%d-%H%M%S}"
        token = store.create_key(name, "practitioner", expires_in=timedelta(days=1)).token
        store.close()
        child = _a_child(settings.features)
        body = f'{{"child_id": "{child}", "purpose": "demo: team around the child meeting"}}'
        console.print(
            f"\nLantern will serve at [bold]{url}[/bold] once the models have loaded.\n"
            f"  practitioner page: [bold]{url}/ui/[/bold]\n"
            f"  demo key ({name}, practitioner; shown once; expires in a day): {token}\n\n"
            "  example request:\n"
            f"  curl -s -X POST {url}/prompt -H 'Authorization: Bearer {token}' "
            f"-H 'Content-Type: application/json' -d {shlex.quote(body)}\n",
            soft_wrap=True,
        )
    else:
        console.print(f"Lantern will serve at {url} (page: {url}/ui/); Ctrl-C stops it.")
    console.print(f"  feature table: {settings.features}\n  audit store: {settings.store.url}")
    if settings.linkage:
        console.print(f"  linkage: {settings.linkage}")
    os.execv(
        sys.executable,
        [
            sys.executable,
            "-m",
            "bentoml",
            "serve",
            "serving.service:Lantern",
            "--host",
            host,
            "--port",
            str(port),
        ],
    )


def _a_child(features: Path) -> str:
    """A child id from the newest snapshot, for the example request."""
    from serving.state import NotReadyError, read_latest_snapshot

    try:
        return str(read_latest_snapshot(features).child_ids[0])
    except NotReadyError:
        return "C0000001"
