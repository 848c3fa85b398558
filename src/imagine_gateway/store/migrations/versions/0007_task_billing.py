"""Billing facts on each task: the credential that served it and why its charge is what it is.

``upstream_credential`` is a non-secret label of the provider key that served the task (the
provider is in ``provider``, its reported cost in ``upstream_cost_ticks``); ``billing_reason`` says
why a charge differs from a plain capture or refund (settled to what was delivered, or a policy's
charge on cancel, moderation or an ambiguous submit).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("upstream_credential", sa.String(64), nullable=True))
        batch.add_column(sa.Column("billing_reason", sa.String(500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("billing_reason")
        batch.drop_column("upstream_credential")
