"""search: the PostgreSQL backend's ticket index (similar solved tickets, duplicates at filing)

Revision ID: 0014_search_tickets
Revises: 0001_foundation
Create Date: 2026-12-02 17:55:00
"""
from alembic import op
import sqlalchemy as sa
import portal.db
from sqlalchemy.dialects import postgresql

revision = '0014_search_tickets'
down_revision = '0001_foundation'
branch_labels = None
depends_on = ('0011_search_pg', '0002_tickets')


def upgrade() -> None:
    op.create_table('search_tickets',
    sa.Column('ticket_id', sa.String(length=32), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('scope', sa.String(length=10), nullable=False),
    sa.Column('words', sa.Text().with_variant(postgresql.TSVECTOR(), 'postgresql'), nullable=False),
    sa.Column('terms', sa.Text().with_variant(postgresql.ARRAY(sa.Text()), 'postgresql'), nullable=False),
    sa.Column('updated_at', portal.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('ticket_id', name=op.f('pk_search_tickets'))
    )
    with op.batch_alter_table('search_tickets', schema=None) as batch_op:
        batch_op.create_index('ix_search_tickets_scope', ['scope', 'organization_id'], unique=False)
        batch_op.create_index('ix_search_tickets_words', ['words'], unique=False, postgresql_using='gin')

    op.create_table('search_ticket_terms',
    sa.Column('term', sa.String(length=300), nullable=False),
    sa.Column('docs', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('term', name=op.f('pk_search_ticket_terms'))
    )
    op.create_table('search_ticket_state',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('watermark', portal.db.UTCDateTime(), nullable=False),
    sa.Column('tickets', sa.Integer(), nullable=False),
    sa.Column('mode', sa.String(length=10), nullable=False),
    sa.Column('schema_version', sa.Integer(), nullable=False),
    sa.Column('built_at', sa.Float(), nullable=False),
    sa.Column('build_seconds', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_search_ticket_state'))
    )


def downgrade() -> None:
    op.drop_table('search_ticket_state')
    op.drop_table('search_ticket_terms')
    with op.batch_alter_table('search_tickets', schema=None) as batch_op:
        batch_op.drop_index('ix_search_tickets_words', postgresql_using='gin')
        batch_op.drop_index('ix_search_tickets_scope')
    op.drop_table('search_tickets')
