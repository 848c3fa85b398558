"""Accounts that an operator can disable, per-key spend caps and model allowlists with their
counters, top-up references, the audit log and the admin API's idempotency records.

Revision ID: 0007_admin
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_admin"
down_revision = "0005"
branch_labels = None
depends_on = None

_KEY_COLUMNS = (
    ("limit_total", sa.BigInteger, None),
    ("limit_daily", sa.BigInteger, None),
    ("limit_monthly", sa.BigInteger, None),
    ("models", sa.JSON, None),
    ("spent_total", sa.BigInteger, "0"),
    ("spent_daily", sa.BigInteger, "0"),
    ("spent_day", sa.Integer, "0"),
    ("spent_monthly", sa.BigInteger, "0"),
    ("spent_month", sa.Integer, "0"),
)


def upgrade() -> None:
    # Plain ADD COLUMNs (nullable or with a default): no table is copied on SQLite.
    op.add_column("accounts", sa.Column("disabled_at", sa.BigInteger, nullable=True))
    for name, kind, default in _KEY_COLUMNS:
        op.add_column("api_keys", sa.Column(name, kind, nullable=default is None, server_default=default))
    op.add_column("ledger", sa.Column("reference", sa.String(200), nullable=True))
    # A unique index rather than a constraint: SQLite adds it without copying the table.
    op.create_index("ix_ledger_account_reference", "ledger", ["account_id", "reference"], unique=True)
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, autoincrement=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("actor_account_id", sa.String(40), nullable=True),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target_type", sa.String(16), nullable=False),
        sa.Column("target_id", sa.String(40), nullable=False),
        sa.Column("account_id", sa.String(40), nullable=True),
        sa.Column("details", sa.JSON, nullable=True),
        sa.Column("request_id", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_account_id", "audit_log", ["account_id"])
    op.create_index("ix_audit_log_created", "audit_log", ["created_at", "id"])
    op.create_table(
        "admin_requests",
        sa.Column("key", sa.String(255)),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("response", sa.JSON, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_admin_requests"),
    )


def downgrade() -> None:
    op.drop_table("admin_requests")
    op.drop_index("ix_audit_log_created", table_name="audit_log")
    op.drop_index("ix_audit_log_account_id", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_index("ix_ledger_account_reference", table_name="ledger")
    with op.batch_alter_table("ledger") as batch:
        batch.drop_column("reference")
    with op.batch_alter_table("api_keys") as batch:
        for name, _kind, _default in reversed(_KEY_COLUMNS):
            batch.drop_column(name)
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("disabled_at")
