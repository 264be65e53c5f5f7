"""Alembic, driven from code: the migrations ship inside the package.

Each domain keeps its own branch of revisions rooted at the foundation
revision, so domains evolve independently; ``upgrade`` applies every head.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from portal.db import Database
from portal.errors import NotInitialised

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(db: Database) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("path_separator", "os")
    cfg.attributes["engine"] = db.engine
    return cfg


def script_heads(db: Database) -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config(db)).get_heads())


def database_heads(db: Database) -> set[str]:
    with db.engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


def is_current(db: Database, current: set[str]) -> bool:
    """Every revision is applied. Heads alone do not say it: Alembic drops a revision that another
    branch ``depends_on`` from the version table once the dependent one is applied."""
    if current == script_heads(db):
        return True
    script = ScriptDirectory.from_config(alembic_config(db))
    if not current or current - {rev.revision for rev in script.walk_revisions()}:
        return False
    applied = {rev.revision for rev in script.revision_map.iterate_revisions(tuple(current), "base")}
    return applied == {rev.revision for rev in script.walk_revisions()}


def upgrade(db: Database) -> bool:
    """Apply all pending migrations; True when anything was applied."""
    before = database_heads(db)
    if is_current(db, before):
        return False
    check_not_newer(db, before)
    command.upgrade(alembic_config(db), "heads")
    return True


def check_not_newer(db: Database, current: set[str]) -> None:
    known = {rev.revision for rev in ScriptDirectory.from_config(alembic_config(db)).walk_revisions()}
    unknown = current - known
    if unknown:
        raise NotInitialised(
            f"The database has migrations this portal does not know ({', '.join(sorted(unknown))}): "
            "it was migrated by a newer version. Install that version (or newer) of the portal."
        )


def check_schema(db: Database) -> None:
    """Refuse to run on an unmigrated, partly migrated or newer database, saying what to do."""
    current = database_heads(db)
    if is_current(db, current):
        return
    check_not_newer(db, current)
    if not current:
        raise NotInitialised(
            f"The database at {db.engine.url.render_as_string(hide_password=True)} is not initialised. "
            "Run `portal init` first."
        )
    raise NotInitialised("The database schema is older than this portal. Run `portal init` to apply the migrations.")
