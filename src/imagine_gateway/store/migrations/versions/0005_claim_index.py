"""The claim index by state, over live tasks only.

The worker claims by state (submissions and polls apart from collects), so the index leads with
``state``: a claim then reads only the due rows of the states it takes, not a backlog of another
(10,000 results waiting to be collected made every poll claim read 10,000 rows). It is partial,
``next_run_at IS NOT NULL``: a finished task leaves it, so it holds only live work however many
tasks the table keeps.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_LIVE = sa.text("next_run_at IS NOT NULL")


def upgrade() -> None:
    op.drop_index("ix_tasks_due", table_name="tasks")
    op.create_index(
        "ix_tasks_due",
        "tasks",
        ["state", "next_run_at"],
        sqlite_where=_LIVE,
        postgresql_where=_LIVE,
    )


def downgrade() -> None:
    op.drop_index("ix_tasks_due", table_name="tasks")
    op.create_index("ix_tasks_due", "tasks", ["next_run_at"])
