"""tickets: a partial index of the unreacted new tickets by reaction deadline (second line's «awaiting a reaction»)

Revision ID: 0018_tickets_awaiting_reaction
Revises: 0001_foundation
Depends on: 0012_tickets_answer
Create Date: 2026-12-02 17:45:00
"""
import sqlalchemy as sa
from alembic import op


revision = '0018_tickets_awaiting_reaction'
down_revision = '0001_foundation'
branch_labels = None
depends_on = '0012_tickets_answer'

UNREACTED = "status = 'new' AND reacted_at IS NULL"


def upgrade() -> None:
    op.create_index('ix_tickets_awaiting_reaction', 'tickets', ['sla_reaction_due', 'id'], unique=False,
                    postgresql_where=sa.text(UNREACTED), sqlite_where=sa.text(UNREACTED))


def downgrade() -> None:
    op.drop_index('ix_tickets_awaiting_reaction', table_name='tickets')
