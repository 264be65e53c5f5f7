"""releases: the tamper-evident delivery ledger (events chained per package, each chain's head), with the history
of existing deliveries written into it so that old data verifies

Revision ID: 0017_releases_ledger
Revises: 0001_foundation
Create Date: 2026-12-02 17:50:00
"""
import datetime as dt
import hashlib
import json

import sqlalchemy as sa
from alembic import op

import portal.db

revision = '0017_releases_ledger'
down_revision = '0001_foundation'
branch_labels = ('releases_ledger',)
depends_on = '0005_releases'


def upgrade() -> None:
    op.create_table('ledger_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('package_id', sa.String(length=80), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('actor', sa.String(length=150), nullable=False),
    sa.Column('actor_name', sa.String(length=200), nullable=False),
    sa.Column('at', portal.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('details', sa.Text(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'],
                            name=op.f('fk_ledger_events_organization_id_organizations')),
    sa.ForeignKeyConstraint(['package_id'], ['packages.id'], name=op.f('fk_ledger_events_package_id_packages'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_events')),
    sa.UniqueConstraint('package_id', 'seq', name='uq_ledger_events_package_seq')
    )
    with op.batch_alter_table('ledger_events', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_events_organization', ['organization_id', 'package_id'], unique=False)
    op.create_table('ledger_heads',
    sa.Column('package_id', sa.String(length=80), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['package_id'], ['packages.id'], name=op.f('fk_ledger_heads_package_id_packages'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('package_id', name=op.f('pk_ledger_heads'))
    )
    _backfill(op.get_bind())


def downgrade() -> None:
    op.drop_table('ledger_heads')
    with op.batch_alter_table('ledger_events', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_events_organization')
    op.drop_table('ledger_events')


# --- the history of deliveries made before the ledger ---------------------------------------------------------
# A frozen copy of portal.releases.ledger.canonical (version 1): the migration must write what that code verifies
# today and forever, whatever the application's code becomes.

def _canonical(*, package_id, seq, organization_id, kind, actor, actor_name, at, details, prev_hash) -> bytes:
    return json.dumps({
        "v": 1, "package": package_id, "seq": seq, "organization": organization_id, "kind": kind,
        "actor": actor, "actor_name": actor_name, "at": at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        "details": json.loads(details), "prev": prev_hash,
    }, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def _details(values: dict) -> str:
    return json.dumps(values, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


_STEP_ORDER = {"downloaded": 0, "delivered": 1, "acknowledged": 2, "confirmed": 3}


def _backfill(bind) -> None:
    meta = sa.MetaData()
    utc = portal.db.UTCDateTime(timezone=True)
    deliveries = sa.Table('deliveries', meta, sa.Column('id', sa.Integer), sa.Column('package_id', sa.String),
                          sa.Column('organization_id', sa.Integer),
                          *(sa.Column(f'{step}_at', utc) for step in _STEP_ORDER),
                          *(sa.Column(f'{step}_by', sa.String) for step in _STEP_ORDER),
                          sa.Column('channel', sa.String), sa.Column('delivery_note', sa.Text),
                          sa.Column('acknowledge_note', sa.Text), sa.Column('confirm_note', sa.Text),
                          sa.Column('on_behalf', sa.Boolean))
    users = sa.Table('users', meta, sa.Column('username', sa.String), sa.Column('full_name', sa.String))
    organizations = sa.Table('organizations', meta, sa.Column('id', sa.Integer), sa.Column('slug', sa.String),
                             sa.Column('name', sa.String))
    packages = sa.Table('packages', meta, sa.Column('id', sa.String), sa.Column('title', sa.String),
                        sa.Column('version', sa.String))
    files = sa.Table('package_files', meta, sa.Column('id', sa.Integer), sa.Column('package_id', sa.String),
                     sa.Column('name', sa.String), sa.Column('size', sa.BigInteger), sa.Column('sha256', sa.String))
    events = sa.Table('ledger_events', meta, sa.Column('package_id', sa.String), sa.Column('seq', sa.Integer),
                      sa.Column('organization_id', sa.Integer), sa.Column('kind', sa.String),
                      sa.Column('actor', sa.String), sa.Column('actor_name', sa.String), sa.Column('at', utc),
                      sa.Column('details', sa.Text), sa.Column('prev_hash', sa.String), sa.Column('hash', sa.String))
    heads = sa.Table('ledger_heads', meta, sa.Column('package_id', sa.String), sa.Column('seq', sa.Integer),
                     sa.Column('hash', sa.String))

    names = {u.username: u.full_name or u.username for u in bind.execute(sa.select(users))}
    orgs = {o.id: o for o in bind.execute(sa.select(organizations))}
    package_rows = {p.id: p for p in bind.execute(sa.select(packages))}
    files_of: dict[str, list] = {}
    for f in bind.execute(sa.select(files).order_by(files.c.id)):
        files_of.setdefault(f.package_id, []).append({"name": f.name, "size": f.size, "sha256": f.sha256})

    happened: dict[str, list] = {}
    for d in bind.execute(sa.select(deliveries).order_by(deliveries.c.id)):
        for step, order in _STEP_ORDER.items():
            at = getattr(d, f'{step}_at')
            if at is None:
                continue
            if step == "delivered":
                facts = {"channel": d.channel, "delivered_at": at.isoformat(), "note": d.delivery_note}
            elif step == "acknowledged":
                facts = {"note": d.acknowledge_note}
            elif step == "confirmed":
                org, package = orgs[d.organization_id], package_rows[d.package_id]
                facts = {"note": d.confirm_note, "on_behalf": bool(d.on_behalf),
                         "organization": {"slug": org.slug, "name": org.name},
                         "package": {"title": package.title, "version": package.version},
                         "files": files_of.get(d.package_id, [])}
            else:
                facts = {}
            facts["backfilled"] = True  # written by migration 0017 from the delivery's row
            who = getattr(d, f'{step}_by') or ""
            happened.setdefault(d.package_id, []).append(
                (at, d.id, order, d.organization_id, step, who, names.get(who, who), _details(facts)))

    for package_id, steps in sorted(happened.items()):
        prev_hash = ""
        for seq, (at, _, _, organization_id, kind, who, name, details) in enumerate(sorted(steps), start=1):
            row = {"package_id": package_id, "seq": seq, "organization_id": organization_id, "kind": kind,
                   "actor": who, "actor_name": name, "at": at, "details": details, "prev_hash": prev_hash}
            row["hash"] = hashlib.sha256(_canonical(**row)).hexdigest()
            bind.execute(events.insert().values(**row))
            prev_hash = row["hash"]
        bind.execute(heads.insert().values(package_id=package_id, seq=len(steps), hash=prev_hash))
