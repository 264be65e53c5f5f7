"""search: the PostgreSQL index's rows keep their wide values out of line (toast_tuple_target 128)

Finding the documents of a word reads the GIN index and then visits each matching row of search_documents for its
id. With the tsvectors, the term frequencies, the body and the stored fields inline (about 4 KB a row, two rows a
block), a common word's first look visited 9,000–10,000 blocks at 50,000 articles (~100 ms of a search); with
them moved to the TOAST table the rows are narrow and the same visit reads a few hundred blocks (~4 ms). Only the
rows written after it are stored so (the next `portal search rebuild` writes all of them); SQLite has nothing of it.

Revision ID: 0019_search_pg_narrow_rows
Revises: 0001_foundation
Depends on: 0011_search_pg
Create Date: 2026-12-02 23:10:00
"""
from alembic import op


revision = '0019_search_pg_narrow_rows'
down_revision = '0001_foundation'
branch_labels = None
depends_on = '0011_search_pg'


# The small values every reader loads for all rows (filters, facets, lengths) stay inline: below the target the
# toaster would move them out too, and loading a version would then read the TOAST table once per row and value.
INLINE = ('path', 'slug', 'visibility', 'module', 'kind', 'versions', 'tags', 'lengths')


def upgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE search_documents SET (toast_tuple_target = 128)')
        for column in INLINE:
            op.execute(f'ALTER TABLE search_documents ALTER COLUMN {column} SET STORAGE MAIN')


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE search_documents RESET (toast_tuple_target)')
        for column in INLINE:
            op.execute(f'ALTER TABLE search_documents ALTER COLUMN {column} SET STORAGE EXTENDED')
