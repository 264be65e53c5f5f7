"""search: pairs of neighbouring terms in the PostgreSQL index (search_documents.pairs_vec), answering phrases

A phrase was found by checking the positions in the tsvector of every row holding all its words: for two common
words at 50,000 articles, thousands of rows read from the TOAST table at its first look (140–250 ms). Each row now
also keeps the pairs of terms at neighbouring positions of its text as lexemes of their own, with a GIN index, so a
phrase of two words is answered by that index alone and a longer one has its positions checked only in the rows
holding each of its pairs. The rows of a generation built before have no pairs: ``search_generations.pairs`` says
which generations have them, and phrases in the others are checked by positions as before until the next
`portal search rebuild`.

Revision ID: 0020_search_pg_phrase_pairs
Revises: 0001_foundation
Depends on: 0019_search_pg_narrow_rows
Create Date: 2026-12-03 07:20:00
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


revision = '0020_search_pg_phrase_pairs'
down_revision = '0001_foundation'
branch_labels = None
depends_on = '0019_search_pg_narrow_rows'


def upgrade() -> None:
    with op.batch_alter_table('search_documents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pairs_vec', sa.Text().with_variant(postgresql.TSVECTOR(), 'postgresql'),
                                      nullable=True))
        batch_op.create_index('ix_search_documents_pairs', ['pairs_vec'], unique=False, postgresql_using='gin')
    with op.batch_alter_table('search_generations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pairs', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('search_generations', schema=None) as batch_op:
        batch_op.drop_column('pairs')
    with op.batch_alter_table('search_documents', schema=None) as batch_op:
        batch_op.drop_index('ix_search_documents_pairs', postgresql_using='gin')
        batch_op.drop_column('pairs_vec')
