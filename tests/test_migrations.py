"""The Alembic migrations build the same schema as the models, with one head."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import upgrade
from sqlalchemy import create_engine

from forum import create_app
from forum.extensions import db

ROOT = Path(__file__).resolve().parent.parent


def test_migrations_have_a_single_head(app):
    script = ScriptDirectory.from_config(app.extensions["migrate"].migrate.get_config())
    assert len(script.get_heads()) == 1, script.get_heads()


def test_migrations_match_the_models(tmp_path, base_config, database_url):
    if database_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'migrated.db'}"
    else:
        pytest.skip("checked on SQLite; the PostgreSQL run uses create_all on its own database")
    app = create_app({**base_config, "DATABASE_URL": url})
    with app.app_context():
        upgrade()
        engine = create_engine(url)
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "render_as_batch": True}
            )
            with warnings.catch_warnings():
                # SQLite cannot reflect the lower(username)/lower(email) unique indexes.
                warnings.filterwarnings("ignore", "autogenerate skipping", UserWarning)
                # Nor the SIG page's ordering index, which is checked by name below.
                warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression")
                diff = compare_metadata(context, db.metadata)
            # Indexes the models make on PostgreSQL only (`ddl_if`), as the migrations do.
            postgres_only = {
                index.name
                for table in db.metadata.tables.values()
                for index in table.indexes
                if index._ddl_if is not None and index._ddl_if.dialect == "postgresql"
            }
            diff = [d for d in diff if not (d[0] == "add_index" and d[1].name in postgres_only)]
            indexes = {
                row[0]
                for row in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type='index'")
            }
            queue_sql = conn.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE name = 'search_queue'"
            ).scalar_one()
        engine.dispose()
    assert "ix_topics_sig_order" in indexes
    # A drain deletes queue rows by id: an id must never be handed out twice (0008).
    assert "AUTOINCREMENT" in queue_sql
    assert diff == [], f"models and migrations disagree: {diff}"


@pytest.mark.slow
def test_flask_db_upgrade_from_the_command_line(tmp_path):
    env = {**os.environ, "FLASK_APP": "wsgi.py", "FORUM_INSTANCE_PATH": str(tmp_path)}
    env.pop("FORUM_DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "-m", "flask", "db", "upgrade"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "forum.db").exists()
