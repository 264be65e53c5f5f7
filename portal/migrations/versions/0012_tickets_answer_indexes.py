"""tickets: indexes for second line's «awaiting my answer» (a person's open tickets, a ticket's last public comment)

Revision ID: 0012_tickets_answer
Revises: 0007_tickets_queue_summary
Create Date: 2026-12-02 15:20:00
"""
from alembic import op


revision = '0012_tickets_answer'
down_revision = '0007_tickets_queue_summary'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index('ix_tickets_assignee')
        batch_op.create_index('ix_tickets_assignee_open', ['assignee_id', 'is_open', 'status', 'id'], unique=False)
    with op.batch_alter_table('ticket_events', schema=None) as batch_op:
        batch_op.create_index('ix_ticket_events_comments', ['ticket_id', 'kind', 'public', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('ticket_events', schema=None) as batch_op:
        batch_op.drop_index('ix_ticket_events_comments')
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index('ix_tickets_assignee_open')
        batch_op.create_index('ix_tickets_assignee', ['assignee_id'], unique=False)
