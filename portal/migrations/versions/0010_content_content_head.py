"""content head: the commit the last writer pushed to the shared content remote

Revision ID: 0010_content
Revises: 0001_foundation
Create Date: 2026-12-02 13:50:00.000000
"""
from alembic import op
import sqlalchemy as sa
import portal.db


revision = '0010_content'
down_revision = '0001_foundation'
branch_labels = ('content',)
depends_on = None


def upgrade() -> None:
    op.create_table('content_head',
    sa.Column('branch', sa.String(length=100), nullable=False),
    sa.Column('commit', sa.String(length=40), nullable=False),
    sa.Column('node', sa.String(length=120), nullable=False),
    sa.Column('pushed_at', portal.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('branch', name=op.f('pk_content_head'))
    )


def downgrade() -> None:
    op.drop_table('content_head')
