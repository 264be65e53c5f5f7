"""releases: notices of a withdrawal or a replacement to the organisations that received the package

Revision ID: 0013_releases_notices
Revises: 0001_foundation
Create Date: 2026-12-02 17:50:00

``packages.supersedes_id`` (the package a package replaces), ``package_notices`` (one per package, organisation
and kind), and ``deliveries.status`` wide enough for «withdrawn_notified» and «withdrawal_acknowledged».
"""
from alembic import op
import sqlalchemy as sa
import portal.db


revision = '0013_releases_notices'
down_revision = '0001_foundation'
branch_labels = None
depends_on = '0005_releases'


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        # Not batch mode: rebuilding `packages` would drop it, and with foreign keys on that deletes every row
        # that cascades from it. SQLite adds a nullable column with its REFERENCES clause in place.
        op.execute("ALTER TABLE packages ADD COLUMN supersedes_id VARCHAR(80) "
                   "CONSTRAINT fk_packages_supersedes_id_packages REFERENCES packages (id)")
    else:
        op.add_column('packages', sa.Column('supersedes_id', sa.String(length=80), nullable=True))
        op.create_foreign_key(op.f('fk_packages_supersedes_id_packages'), 'packages', 'packages',
                              ['supersedes_id'], ['id'])
    op.create_index(op.f('ix_packages_supersedes_id'), 'packages', ['supersedes_id'], unique=False)

    # Nothing refers to `deliveries`, so SQLite may rebuild it (batch mode) to widen the column.
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.alter_column('status', existing_type=sa.String(length=14), type_=sa.String(length=24),
                              existing_nullable=False)

    op.create_table('package_notices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('package_id', sa.String(length=80), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('replacement_id', sa.String(length=80), nullable=True),
    sa.Column('created_at', portal.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('acknowledged_at', portal.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_by', sa.String(length=150), nullable=False),
    sa.Column('next_reminder_on', sa.Date(), nullable=True),
    sa.Column('reminders', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_package_notices_organization_id_organizations')),
    sa.ForeignKeyConstraint(['package_id'], ['packages.id'], name=op.f('fk_package_notices_package_id_packages'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['replacement_id'], ['packages.id'], name=op.f('fk_package_notices_replacement_id_packages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_package_notices')),
    sa.UniqueConstraint('package_id', 'organization_id', 'kind', name='uq_package_notices_package_org_kind')
    )
    with op.batch_alter_table('package_notices', schema=None) as batch_op:
        batch_op.create_index('ix_package_notices_open', ['kind', 'acknowledged_at', 'next_reminder_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_package_notices_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_package_notices_package_id'), ['package_id'], unique=False)


def downgrade() -> None:
    op.drop_table('package_notices')
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.alter_column('status', existing_type=sa.String(length=24), type_=sa.String(length=14),
                              existing_nullable=False)
    op.drop_index(op.f('ix_packages_supersedes_id'), table_name='packages')
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE packages DROP COLUMN supersedes_id")
    else:
        op.drop_constraint(op.f('fk_packages_supersedes_id_packages'), 'packages', type_='foreignkey')
        op.drop_column('packages', 'supersedes_id')
