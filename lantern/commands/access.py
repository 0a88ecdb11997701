"""``lantern keys``, ``audit-log``, ``subject-access`` and ``retention``: who may call the
service, the record of every call, and the data-protection duties.

Every command takes ``--database-url`` (default ``LANTERN_DATABASE_URL``, else
``sqlite:///data/lantern.db``) and ``--config`` (store settings YAML, e.g. the retention
policy). Key changes, audit-log exports and subject access exports are themselves written to
the audit log. Heavy imports happen when a command runs, so that ``lantern --help`` stays
quick.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from access.roles import Role
from lantern.commands import PIPE_WIDTH, make_console

if TYPE_CHECKING:
    from access.store import Store

console = make_console()
_stderr = Console(stderr=True)
notes = _stderr if _stderr.is_terminal else Console(stderr=True, width=PIPE_WIDTH)
"""Notes that must not mix with a command's output (the key, an export) on standard output."""

keys_app = typer.Typer(
    help="Issue, list and revoke API keys (stored hashed; a key is shown once).",
    no_args_is_help=True,
)


class ExportFormat(StrEnum):
    csv = "csv"
    json = "json"


DatabaseOption = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="SQLAlchemy URL of Lantern's database (default: LANTERN_DATABASE_URL, else "
        "sqlite:///data/lantern.db).",
        show_default=False,
    ),
]
ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", help="Store settings YAML (e.g. retention: {audit_months: 84})."),
]


def _fail(message: str, code: int = 2) -> typer.Exit:
    console.print(f"[red]{message}[/]", soft_wrap=True)
    return typer.Exit(code=code)


def open_store(config: Path | None, database_url: str | None) -> Store:
    """The store the options point at (nothing is opened until it is used)."""
    from access.config import load_store_settings
    from access.store import Store

    try:
        return Store(load_store_settings(config, url=database_url))
    except ValueError as err:
        raise _fail(str(err)) from None


@contextmanager
def database_errors(store: Store) -> Iterator[None]:
    """Turn a database that cannot be used into a clear message and exit status."""
    from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

    try:
        yield
    except (ArgumentError, NoSuchModuleError) as err:
        raise _fail(
            f"the database URL is not usable ({err}); give e.g. "
            "sqlite:///data/lantern.db or postgresql://user@host/lantern"
        ) from None
    except DBAPIError as err:
        first = str(err.orig or err).strip().splitlines()[0]
        raise _fail(
            f"could not use the database {store.describe()}: {first}. Check --database-url "
            "(or LANTERN_DATABASE_URL) and that the database is reachable",
            code=1,
        ) from None
    finally:
        store.close()


def _parse_day(option: str, text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise _fail(f"{option} {text!r} is not a date; give YYYY-MM-DD, e.g. 2025-04-01") from None


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else ""


def _write_text(text: str, out: Path | None) -> None:
    """Write to ``out`` atomically, readable by its owner only, or to standard output."""
    if out is None:
        typer.echo(text, nl=not text.endswith("\n"))
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")
    try:
        partial.unlink(missing_ok=True)
        # Owner-only: an export holds children's ids (and a subject access export, more).
        with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
            f.write(text)
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)


# --------------------------------------------------------------------------- keys


@keys_app.command("create")
def create_key(
    role: Annotated[Role, typer.Option(help="What the key may do.", show_default=False)],
    name: Annotated[
        str,
        typer.Option(
            help="Who holds it, e.g. asha.safeguarding-lead (never reused).", show_default=False
        ),
    ],
    expires_in_days: Annotated[
        int,
        typer.Option("--expires-in-days", min=1, max=3650, help="Days until the key is refused."),
    ] = 365,
    database_url: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """Issue a key: it is printed once, on standard output; only its hash is stored."""
    from access.records import KeyNameTakenError

    store = open_store(config, database_url)
    with database_errors(store):
        try:
            issued = store.create_key(name, role.value, expires_in=timedelta(days=expires_in_days))
        except (KeyNameTakenError, ValueError) as err:
            raise _fail(str(err)) from None
        store.log_command(
            "keys create",
            detail=f"issued key {name!r} ({role.value}, id {issued.key.key_id}, expires "
            f"{_when(issued.key.expires_at)})",
        )
    notes.print(
        f"Issued key [bold]{name}[/] for the {role.value} role (id {issued.key.key_id}), "
        f"valid until {_when(issued.key.expires_at)}. "
        "It is shown once: store it now (e.g. in a password manager); Lantern keeps only its "
        "hash. Send it as 'Authorization: Bearer <key>'.",
        soft_wrap=True,
    )
    typer.echo(issued.token)


@keys_app.command("init")
def init_keys(database_url: DatabaseOption = None, config: ConfigOption = None) -> None:
    """Create the audit log's chain secret (a private file; see docs/security.md), before the
    first key or service start. Refuses to replace one that exists."""
    from access.secret import SECRET_VARIABLE, create_secret

    store = open_store(config, database_url)
    path = store.settings.secret_path()
    if os.environ.get(SECRET_VARIABLE):
        raise _fail(f"the secret is given in ${SECRET_VARIABLE}; there is no file to create")
    try:
        create_secret(path)
    except FileExistsError:
        raise _fail(
            f"the audit secret {path} exists already; keep it (the log's chain is checked "
            "with it). Nothing was changed"
        ) from None
    with database_errors(store):
        store.log_command("keys init", detail=f"created the audit secret {path}")
    console.print(
        f"created the audit secret {path} (readable by you only). Keep it outside the "
        "database's backups; without it the log cannot be verified",
        soft_wrap=True,
    )


@keys_app.command("list")
def list_keys(database_url: DatabaseOption = None, config: ConfigOption = None) -> None:
    """List every key issued (never the keys themselves): name, role, id, dates."""
    store = open_store(config, database_url)
    with database_errors(store):
        keys = store.list_keys()
    if not keys:
        console.print(
            "no keys issued yet; `lantern keys create --role ROLE --name NAME` issues one"
        )
        return
    table = Table(title=f"API keys in {store.describe()}")
    for column in ("name", "role", "key id", "created", "expires", "last used", "revoked"):
        table.add_column(column, overflow="fold")
    for key in keys:
        expires = _when(key.expires_at) if key.expires_at else "never"
        table.add_row(
            key.name,
            key.role,
            key.key_id,
            _when(key.created_at),
            f"[red]{expires}[/]" if key.expired() else expires,
            _when(key.last_used_at) or "never",
            f"[red]{_when(key.revoked_at)}[/]" if key.revoked else "",
        )
    console.print(table)


@keys_app.command("revoke")
def revoke_key(
    name: Annotated[str, typer.Argument(help="The key's name (see `lantern keys list`).")],
    database_url: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """Revoke a key: every worker refuses it within the key cache time (10 s by default)."""
    from access.records import UnknownKeyError

    store = open_store(config, database_url)
    with database_errors(store):
        before = {k.name: k for k in store.list_keys()}
        try:
            key = store.revoke_key(name)
        except UnknownKeyError as err:
            raise _fail(str(err)) from None
        already = before[name].revoked
        if not already:
            store.log_command("keys revoke", detail=f"revoked key {name!r} (id {key.key_id})")
    if already:
        console.print(f"key {name} was already revoked on {_when(key.revoked_at)}")
    else:
        console.print(f"revoked key {name} ({key.role}, id {key.key_id})")


# --------------------------------------------------------------------------- audit log


audit_log_app = typer.Typer(
    help="Export the audit log (`lantern audit-log --since DAY`), or check it (`verify`).",
    invoke_without_command=True,
    no_args_is_help=True,
)


@audit_log_app.callback()
def audit_log(
    ctx: typer.Context,
    since: Annotated[
        str | None,
        typer.Option(help="First day to export (YYYY-MM-DD, UTC).", show_default=False),
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Last day to export, inclusive (default: today).")
    ] = None,
    format: Annotated[ExportFormat, typer.Option(help="csv or json.")] = ExportFormat.csv,
    out: Annotated[
        Path | None, typer.Option(help="File to write (default: standard output).")
    ] = None,
    alerts: Annotated[
        bool,
        typer.Option(
            "--alerts",
            help="Show the alerts the service wrote (keys asking about many children), "
            "since --since (default: the last 30 days), instead of exporting.",
        ),
    ] = False,
    database_url: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """Export the audit log for a range of days, as CSV or JSON.

    One row per request: who, when, which child, stated purpose, model versions, outcome and
    request id. The export is itself logged.
    """
    if ctx.invoked_subcommand is not None:
        return
    if alerts:
        _show_alerts(since, config, database_url)
        return
    if since is None:
        raise _fail(
            "give the first day to export with --since YYYY-MM-DD (or `lantern audit-log "
            "verify` to check the log)"
        )
    from access.export import audit_log_csv

    first = _parse_day("--since", since)
    last = _parse_day("--until", until) if until else datetime.now(UTC).date()
    if last < first:
        raise _fail(f"--until {last} is before --since {first}; give a later --until")
    start = datetime.combine(first, time(), UTC)
    end = datetime.combine(last + timedelta(days=1), time(), UTC)
    store = open_store(config, database_url)
    with database_errors(store):
        rows = [r.as_dict() for r in store.audit_rows(start, end)]
        store.log_command(
            "audit-log",
            detail=f"exported {len(rows)} audit rows, {first} to {last}, as {format.value}",
        )
    if format is ExportFormat.json:
        text = json.dumps(rows, indent=1, ensure_ascii=False) + "\n"
    else:
        text = audit_log_csv(rows)
    _write_text(text, out)
    if out is not None:
        console.print(f"wrote {len(rows):,} audit rows ({first} to {last}) to {out}")


def _show_alerts(since: str | None, config: Path | None, database_url: str | None) -> None:
    first = _parse_day("--since", since) if since else datetime.now(UTC).date() - timedelta(days=30)
    store = open_store(config, database_url)
    with database_errors(store):
        rows = [
            r
            for r in store.audit_rows(datetime.combine(first, time(), UTC))
            if r.outcome == "alert"
        ]
        store.log_command("audit-log --alerts", detail=f"showed {len(rows)} alerts since {first}")
    if not rows:
        console.print(f"no alerts since {first}")
        return
    table = Table(title=f"Alerts since {first}")
    for column in ("time", "key", "role", "address", "what"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(
            _when(row.at), row.key_name or "", row.role or "", row.client or "", row.detail or ""
        )
    console.print(table)


@audit_log_app.command("verify")
def verify_audit_log(database_url: DatabaseOption = None, config: ConfigOption = None) -> None:
    """Check the audit log's chain: exit 0 if every row is as written, 1 naming the first
    row that was changed, deleted after, or inserted out of order."""
    from access.integrity import verify_audit_log as verify
    from access.secret import SecretError

    store = open_store(config, database_url)
    with database_errors(store):
        try:
            check = verify(store)
        except SecretError as err:
            raise _fail(str(err)) from None
        store.log_command(
            "audit-log verify",
            detail=f"{check.rows} rows checked: "
            + ("whole" if check.whole else f"row {check.first_bad} fails"),
        )
    if not check.whole:
        console.print(
            f"[red]audit row {check.first_bad} fails its chain check[/]: {check.problem}. "
            f"{check.rows - 1:,} rows before it are as written. Keep this database as it is "
            "and tell whoever is responsible for the partnership's information governance",
            soft_wrap=True,
        )
        raise typer.Exit(code=1)
    console.print(f"the audit log is whole: {check.rows:,} rows, each as written, in order")


# --------------------------------------------------------------------------- data protection


def subject_access(
    child_id: Annotated[str, typer.Argument(help="The child's pseudonymised id.")],
    features: Annotated[
        Path | None,
        typer.Option(help="Feature table to search (the file `lantern features` wrote)."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="JSON file to write (default: standard output).")
    ] = None,
    purpose: Annotated[
        str, typer.Option(help="Why the export is made (logged).")
    ] = "subject access request",
    staff_names: Annotated[
        bool,
        typer.Option(
            "--staff-names/--redact-staff",
            help="Keep practitioners' key names and addresses (for the partnership's own "
            "review); by default they are replaced by 'staff member N'.",
        ),
    ] = False,
    database_url: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """Export everything Lantern holds about one child, as JSON.

    Feature rows (from --features), prompts issued, judgements and audit rows. The export is
    itself logged, against the child, with --purpose.
    """
    from access.data_protection import subject_access_export

    store = open_store(config, database_url)
    with database_errors(store):
        try:
            export = subject_access_export(
                store, child_id, features=features, redact=not staff_names
            )
        except ValueError as err:
            raise _fail(str(err)) from None
        counts = {
            "feature_rows": len(export["feature_rows"] or []),
            "prompts": len(export["prompts"]),
            "audit_rows": len(export["audit_rows"]),
        }
        store.log_command(
            "subject-access",
            child_id=child_id,
            purpose=purpose,
            detail=", ".join(f"{n} {k.replace('_', ' ')}" for k, n in counts.items()),
        )
    _write_text(json.dumps(export, indent=1, ensure_ascii=False) + "\n", out)
    for note in export["notes"]:
        notes.print(f"[yellow]{note}[/]", soft_wrap=True)
    if out is not None:
        found = ", ".join(f"{n:,} {k.replace('_', ' ')}" for k, n in counts.items())
        console.print(f"wrote what Lantern holds about {child_id} ({found}) to {out}")


def retention(
    apply: Annotated[
        bool,
        typer.Option(
            "--apply/--dry-run",
            help="Remove what the policy no longer keeps (default: only show it).",
        ),
    ] = False,
    database_url: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """Remove what the retention policy no longer keeps (--dry-run shows it first).

    By default prompts and their judgements are kept 12 months and audit rows 6 years (set
    them in --config). Each applied run is logged in the retention log.
    """
    from access.data_protection import retention_report

    store = open_store(config, database_url)
    with database_errors(store):
        report = retention_report(store, apply=apply)
    verb = "removed" if report.applied else "to remove"
    table = Table(title="Retention" + ("" if report.applied else " (dry run: nothing removed)"))
    for column in ("table", "rule", "cutoff", verb, "oldest", "newest"):
        table.add_column(column, overflow="fold")
    for item in report.items:
        table.add_row(
            item.table,
            item.rule,
            _when(item.cutoff),
            f"{item.rows:,}",
            _when(item.oldest),
            _when(item.newest),
        )
    console.print(table)
    total = sum(i.rows for i in report.items)
    if report.applied:
        console.print(f"removed {total:,} rows; logged in retention_log as run {report.run_id}")
        if report.reclaimed:
            console.print("gave the database file back the space of the rows removed (VACUUM)")
    else:
        console.print(f"{total:,} rows would be removed; run with --apply to remove them")
