"""Store settings: where the database is (default, environment, explicit) and the policy."""

from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import text

from access.config import (
    DATABASE_URL_VARIABLE,
    RetentionPolicy,
    StoreSettings,
    load_store_settings,
)
from access.store import Store


def test_default_is_data_lantern_db_under_the_working_directory(monkeypatch, tmp_path):
    monkeypatch.delenv(DATABASE_URL_VARIABLE, raising=False)
    monkeypatch.chdir(tmp_path)
    settings = StoreSettings()
    assert settings.url == f"sqlite:///{tmp_path / 'data' / 'lantern.db'}"
    assert settings.retention == RetentionPolicy(prompts_months=12, audit_months=72)


def test_environment_overrides_the_default_and_an_explicit_url_overrides_both(
    monkeypatch, tmp_path
):
    monkeypatch.setenv(DATABASE_URL_VARIABLE, f"sqlite:///{tmp_path}/from-env.db")
    assert StoreSettings().url.endswith("from-env.db")
    assert load_store_settings().url.endswith("from-env.db")
    explicit = load_store_settings(url=f"sqlite:///{tmp_path}/explicit.db")
    assert explicit.url.endswith("explicit.db")


def test_postgres_urls_use_psycopg_3():
    settings = StoreSettings(url="postgresql://lantern@db.example/lantern")
    assert settings.url == "postgresql+psycopg://lantern@db.example/lantern"
    assert StoreSettings(url="postgres://x@y/z").url == "postgresql+psycopg://x@y/z"


def test_yaml_sets_the_retention_policy_and_rejects_unknown_settings(tmp_path):
    good = tmp_path / "store.yaml"
    good.write_text("retention:\n  audit_months: 84\n  prompts_months: 6\n")
    settings = load_store_settings(good, url=f"sqlite:///{tmp_path}/x.db")
    assert settings.retention == RetentionPolicy(prompts_months=6, audit_months=84)
    bad = tmp_path / "bad.yaml"
    bad.write_text("retention:\n  audit_years: 6\n")
    with pytest.raises(ValidationError, match="audit_years"):
        load_store_settings(bad)
    with pytest.raises(ValueError, match="must be a YAML mapping"):
        (tmp_path / "list.yaml").write_text("- 1\n")
        load_store_settings(tmp_path / "list.yaml")
    with pytest.raises(ValueError, match="cannot read store settings"):
        load_store_settings(tmp_path / "missing.yaml")
    with pytest.raises(ValidationError, match="greater than or equal to 1"):
        RetentionPolicy(audit_months=0)


def test_empty_url_is_refused_with_an_example():
    with pytest.raises(ValidationError, match="sqlite:///data/lantern.db"):
        StoreSettings(url=" ")


def test_nothing_is_created_until_first_use_then_sqlite_runs_wal_with_synchronous_normal(
    tmp_path: Path,
):
    db = tmp_path / "sub" / "lantern.db"
    store = Store(StoreSettings(url=f"sqlite:///{db}"))
    assert not db.exists()
    try:
        assert store.list_keys() == []
        assert db.exists()
        with store.engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    finally:
        store.close()
