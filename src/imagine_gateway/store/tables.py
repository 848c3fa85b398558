"""SQL tables (SQLAlchemy Core). Times are epoch milliseconds (BigInteger): exact and portable."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

accounts = Table(
    "accounts",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    # Spendable credits; the sum of the account's ledger amounts.
    Column("balance", BigInteger, nullable=False, default=0),
    # Credits held by in-flight tasks; the sum of the ledger's reserved deltas.
    Column("reserved", BigInteger, nullable=False, default=0),
    Column("created_at", BigInteger, nullable=False),
    Column("disabled_at", BigInteger, nullable=True),  # set: every key of the account is refused
    CheckConstraint("balance >= 0", name="balance_not_negative"),
    CheckConstraint("reserved >= 0", name="reserved_not_negative"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("account_id", String(40), ForeignKey("accounts.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("prefix", String(40), nullable=False),
    Column("secret_hash", String(64), nullable=False, unique=True),
    Column("scopes", JSON, nullable=False),
    Column("rate_limit", String(64), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=True),
    Column("revoked_at", BigInteger, nullable=True),
    Column("last_used_at", BigInteger, nullable=True),
    # Spend caps in credits (NULL: none) and the model allowlist (NULL: every model).
    Column("limit_total", BigInteger, nullable=True),
    Column("limit_daily", BigInteger, nullable=True),
    Column("limit_monthly", BigInteger, nullable=True),
    Column("models", JSON, nullable=True),
    # Spend counters (core.budgets): moved with a conditional update in the create transaction.
    # The daily and monthly ones belong to the period in spent_day / spent_month.
    Column("spent_total", BigInteger, nullable=False, server_default="0"),
    Column("spent_daily", BigInteger, nullable=False, server_default="0"),
    Column("spent_day", Integer, nullable=False, server_default="0"),
    Column("spent_monthly", BigInteger, nullable=False, server_default="0"),
    Column("spent_month", Integer, nullable=False, server_default="0"),
)

ledger = Table(
    "ledger",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", String(40), ForeignKey("accounts.id"), nullable=False, index=True),
    Column("task_id", String(40), nullable=True),
    Column("kind", String(16), nullable=False),  # topup | reserve | capture | release | adjust
    Column("amount", BigInteger, nullable=False),  # change of balance
    Column("reserved_delta", BigInteger, nullable=False, default=0),  # change of reserved
    Column("balance_after", BigInteger, nullable=False),
    Column("note", String(500), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("reference", String(200), nullable=True),  # a top-up's external id (a payment id)
    # A task reserves, captures and releases at most once each: the database enforces it.
    UniqueConstraint("task_id", "kind"),
    # A payment credits an account once, whatever the Idempotency-Key it comes with.
    Index("ix_ledger_account_reference", "account_id", "reference", unique=True),
)

tasks = Table(
    "tasks",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("account_id", String(40), ForeignKey("accounts.id"), nullable=False),
    Column("api_key_id", String(40), nullable=True),
    Column("model", String(100), nullable=False),
    Column("prompt", Text, nullable=False),
    Column("params", JSON, nullable=False),
    Column("client_request_id", String(128), nullable=True),
    Column("dialect", String(32), nullable=False, default="native"),
    Column("webhook_url", String(2000), nullable=True),
    Column("state", String(16), nullable=False),
    Column("progress", Integer, nullable=False, default=0),
    Column("reserved_credits", BigInteger, nullable=False),
    Column("final_credits", BigInteger, nullable=False, default=0),
    Column("credits_state", String(16), nullable=False),
    Column("result", JSON, nullable=True),
    Column("error_code", String(64), nullable=True),
    Column("error_message", String(1000), nullable=True),
    # Which upstream the task went to, so every poll reaches the same one.
    Column("provider", String(64), nullable=True),
    Column("upstream_id", String(200), nullable=True),
    Column("upstream_result", JSON, nullable=True),  # the upstream's own URLs, kept for audit
    Column("upstream_cost_ticks", BigInteger, nullable=True),
    Column("submit_ambiguous", Integer, nullable=False, default=0),
    # The job: schedule, attempts and lease; `fence` is bumped on every claim and every write-back
    # must match it, so a worker that lost its lease cannot overwrite the new owner's progress.
    Column("next_run_at", BigInteger, nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("polls", Integer, nullable=False, default=0),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_expires_at", BigInteger, nullable=True),
    Column("fence", Integer, nullable=False, default=0),
    Column("deadline_at", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("started_at", BigInteger, nullable=True),
    Column("completed_at", BigInteger, nullable=True),
    Column("expires_at", BigInteger, nullable=True),
    # Claims read it by state; finished tasks have next_run_at NULL and leave it (partial index).
    Index(
        "ix_tasks_due",
        "state",
        "next_run_at",
        sqlite_where=text("next_run_at IS NOT NULL"),
        postgresql_where=text("next_run_at IS NOT NULL"),
    ),
    Index("ix_tasks_account_created", "account_id", "created_at", "id"),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("account_id", String(40), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("task_id", String(40), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False, index=True),
)

files = Table(
    "files",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("account_id", String(40), ForeignKey("accounts.id"), nullable=False, index=True),
    Column("api_key_id", String(40), nullable=True),
    Column("kind", String(16), nullable=False),  # image | video | audio
    Column("name", String(255), nullable=False),
    Column("mime_type", String(100), nullable=False),  # detected from the signature, never declared
    Column("size_bytes", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("width", Integer, nullable=True),
    Column("height", Integer, nullable=True),
    Column("duration_s", Float, nullable=True),
    Column("storage_key", String(512), nullable=False),
    Column("origin", String(16), nullable=False),  # upload | url (a reference fetched from a client's URL)
    Column("source_url", String(2000), nullable=True),
    Column("model", String(100), nullable=True),
    Column("client_request_id", String(128), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False, index=True),
)

# Every action of an operator (admin key or CLI) and every change a customer makes to its own keys.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created_at", BigInteger, nullable=False),
    Column("actor", String(64), nullable=False),  # the acting key's id, or "cli"
    Column("actor_account_id", String(40), nullable=True),
    Column("action", String(64), nullable=False),  # e.g. account.disable, key.rotate, credits.topup
    Column("target_type", String(16), nullable=False),  # account | key
    Column("target_id", String(40), nullable=False),
    Column("account_id", String(40), nullable=True, index=True),  # the account acted upon
    Column("details", JSON, nullable=True),
    Column("request_id", String(64), nullable=True),
    Index("ix_audit_log_created", "created_at", "id"),
)

# Admin requests sent with an Idempotency-Key: a retry with the same body gets the first answer.
admin_requests = Table(
    "admin_requests",
    metadata,
    Column("key", String(255), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("status", Integer, nullable=False),
    Column("response", JSON, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)
