"""One typed settings object, read once at start-up and passed down.

Environment variables are prefixed ``IMAGINE_``; upstream keys keep their usual names (``XAI_API_KEY``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

BillingPolicy = Literal["refund", "charge_input", "charge"]


def default_home(environ: Mapping[str, str] | None = None) -> Path:
    """The per-user data directory: ``$XDG_DATA_HOME/imagine-gateway``, else
    ``~/.local/share/imagine-gateway`` (the XDG Base Directory rule: a relative XDG_DATA_HOME is ignored).

    One place per user, whatever the working directory, so ``imagine keys create`` and
    ``imagine serve`` started anywhere share one database.
    """
    env = os.environ if environ is None else environ
    data_home = env.get("XDG_DATA_HOME", "")
    if data_home and Path(data_home).is_absolute():
        return Path(data_home) / "imagine-gateway"
    user_home = Path(env["HOME"]) if env.get("HOME") else Path.home()
    return user_home / ".local" / "share" / "imagine-gateway"


class Settings(BaseSettings):
    """Everything the gateway reads from its environment."""

    model_config = SettingsConfigDict(
        env_prefix="IMAGINE_", extra="ignore", frozen=True, populate_by_name=True
    )

    home: Path = Field(
        default_factory=lambda: default_home(),
        description="State directory of the embedded default; default the per-user data directory",
    )
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default SQLite under home")
    redis_url: str | None = Field(default=None, description="Redis for rate limits and events (scale-out)")
    storage_url: str | None = Field(
        default=None, description="file:///path or s3://bucket?endpoint=...; default home/media"
    )
    s3_presigned_redirects: bool = Field(
        default=False,
        description="Answer media GETs from S3 storage with a redirect to a short-lived presigned S3 URL",
    )
    public_base_url: str = Field(
        default="http://127.0.0.1:8000", description="Base of the URLs handed to clients"
    )
    secret_key: SecretStr | None = Field(
        default=None, description="Signs media URLs and duration tokens; default a file under home"
    )

    # HTTP
    host: str = "127.0.0.1"
    port: int = 8000
    max_body_bytes: int = 1_048_576
    rate_limit: str = Field(default="600/minute", description="Per API key, `limits` notation")
    key_cache_s: float = Field(
        default=1.0,
        ge=0,
        le=60,
        description=(
            "How long a process trusts an API key it checked without reading it again (0: read it on "
            "every request). Changes made through the gateway, or anywhere when Redis is configured, "
            "apply at once; this bounds the rest (e.g. `imagine keys revoke` on SQLite without Redis)"
        ),
    )
    public_api_enabled: bool = True
    # gRPC (xAI's own API, for the official xai-sdk)
    grpc_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="Serve xAI's gRPC API (Video, Image) on this port beside HTTP; off when unset, 0 = any",
    )
    usd_per_credit: Decimal = Field(
        default=Decimal("0.005"),
        ge=0,
        validation_alias=AliasChoices("IMAGINE_CREDIT_USD", "IMAGINE_USD_PER_CREDIT", "credit_usd"),
        description="What one credit is worth in USD (IMAGINE_CREDIT_USD): revenue and margin in the "
        "admin reports, and the cost clients read in USD (the xai-sdk's cost_usd)",
    )
    cors_origins: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        description="Browser origins allowed to call the API (CORS), comma-separated or a JSON list; "
        "'*' for any; none by default",
    )
    max_header_bytes: int = Field(
        default=65_536, ge=1024, description="Largest request head (request line and headers); larger: 431"
    )
    header_timeout_s: float = Field(
        default=30.0, gt=0, description="Time a connection has to send a complete request head"
    )
    max_concurrent_decodes: int = Field(
        default=2, ge=1, description="Uploaded images and videos decoded at once per process (memory bound)"
    )

    # Tasks and worker
    run_worker: bool = Field(default=True, description="Run the worker loop inside the server process")
    worker_concurrency: int = Field(default=64, ge=1, description="Polls one worker runs at once")
    worker_submit_concurrency: int | None = Field(
        default=None, ge=1, description="Submissions one worker runs at once; default: polls / 8, min 8"
    )
    worker_batch: int = 100
    worker_idle_poll_s: float = 0.25
    worker_collect_concurrency: int | None = Field(
        default=None,
        ge=1,
        description="Results one worker collects at once (download, probe, poster); default: CPUs, min 2",
    )
    lease_s: float = 30.0
    task_deadline_s: float = 1800.0
    idempotency_retention_s: float = 86_400.0
    media_url_ttl_s: float = 86_400.0
    result_retention_s: float = 7 * 86_400.0
    upload_retention_s: float = 86_400.0
    sweep_interval_s: float = Field(default=60.0, description="How often expired media is removed")
    temp_max_age_s: float = Field(
        default=3600.0, description="Age after which a sweep removes temp files of writes that never finished"
    )
    collect_max_bytes: int = 512 * 1024 * 1024
    collect_attempts: int = 5
    sync_wait_timeout_s: float = Field(
        default=120.0, description="How long a synchronous dialect call (xAI images) waits for its task"
    )

    # Sandbox engine
    sandbox_latency_s: float = Field(default=3.0, description="Simulated generation time")
    sandbox_failure_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    sandbox_fps: int = 12

    # Upstreams
    xai_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("XAI_API_KEY", "IMAGINE_XAI_API_KEY")
    )
    xai_base_url: str = Field(
        default="https://api.x.ai/v1",
        validation_alias=AliasChoices("XAI_BASE_URL", "IMAGINE_XAI_BASE_URL"),
    )
    upstream_media_urls: Literal["auto", "always", "never"] = Field(
        default="auto",
        description=(
            "How reference files reach xAI: 'always' our signed media URLs (public_base_url must be "
            "reachable from the internet), 'never' data URLs in the body, 'auto' URLs when "
            "public_base_url is https on a public host name"
        ),
    )
    xai_output_upload: bool = Field(
        default=False,
        description=(
            "Send xAI output.upload_url(s): it PUTs results into this gateway's storage (required "
            "for zero-data-retention teams)"
        ),
    )
    providers_file: Path | None = Field(default=None, description="TOML file of upstream providers")
    catalog_file: Path | None = Field(
        default=None, description="Operator's model catalog (TOML) layered over the shipped one"
    )
    upstream_timeout_s: float = Field(
        default=30.0,
        gt=0,
        description="Per-request timeout towards an upstream (a providers file may override)",
    )
    provider_failure_threshold: int = Field(
        default=5, ge=1, description="Consecutive failures that take a provider out (circuit breaker)"
    )
    provider_cool_down_s: float = Field(
        default=30.0, gt=0, description="How long a failing provider stays out before a probe"
    )
    provider_probe_interval_s: float = Field(
        default=1.0, gt=0, description="How often the worker looks for providers due a probe"
    )
    no_provider_timeout_s: float = Field(
        default=300.0,
        gt=0,
        description="A task no provider takes for this long fails as no_provider_available (refunded)",
    )
    poll_first_s: float = Field(default=2.0, gt=0, description="First poll of an upstream job after submit")
    poll_max_interval_s: float | None = Field(
        default=None, gt=0, description="Cap on the poll interval (default: the schedule's own, 10-30 s)"
    )

    # Billing policies: what a customer pays when a task ends without a result after it was sent
    # upstream. refund: nothing; charge_input: what its inputs cost (input images, input video
    # seconds); charge: the whole reservation. Before submission a task is always refunded.
    billing_on_cancel_after_submit: BillingPolicy = Field(
        default="charge",
        description="A cancel after the job was sent upstream (xAI has no cancel and bills the job): "
        "refund | charge_input | charge",
    )
    billing_on_moderation: BillingPolicy = Field(
        default="charge",
        description="An output the upstream's moderation blocked (xAI bills it as made): "
        "refund | charge_input | charge",
    )
    billing_on_ambiguous_submit: BillingPolicy = Field(
        default="refund",
        description="A submit that may have reached the upstream, whose job cannot be found "
        "(nothing shows xAI made or billed it): refund | charge_input | charge",
    )

    # Webhooks
    webhook_delivery_enabled: bool = Field(
        default=True, description="Run the webhook outbox scan and delivery loop in this server process"
    )
    webhook_allow_private: bool = Field(
        default=False,
        description="Allow http:// and private/loopback webhook URLs (tests and closed networks only)",
    )
    webhook_timeout_s: float = 10.0
    webhook_lease_margin_s: float = Field(
        default=30.0,
        gt=0,
        description="How long past the send timeout a delivery stays leased to the process sending it "
        "(a process that dies mid-send holds it that long before another one retries)",
    )
    # Standard Webhooks' schedule: retries 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h after the first try.
    webhook_retry_delays_s: tuple[float, ...] = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)
    webhook_poll_interval_s: float = Field(default=1.0, description="How often the delivery loop runs")
    # Tasks are found by completion time; re-reading this far back catches transactions that committed late.
    webhook_scan_overlap_s: float = 120.0

    log_level: Literal["debug", "info", "warning", "error"] = "info"

    # Operations
    log_format: Literal["json", "text"] = Field(
        default="json", description="Log lines as JSON objects (one per line) or as plain text"
    )
    access_log: bool = Field(default=False, description="Log one line per HTTP request")
    opentelemetry: bool = Field(
        default=False,
        description="FastAPI's own OpenTelemetry traces, HTTP metrics and logs, to the global providers",
    )
    shutdown_grace_s: float = Field(
        default=20.0,
        ge=0,
        description="On SIGTERM, how long running steps may finish before their tasks are released",
    )
    worker_http_port: int | None = Field(
        default=None, description="Port of `imagine worker`'s /healthz, /readyz and /metrics; default off"
    )
    worker_http_host: str = Field(default="127.0.0.1", description="Interface of the worker's listener")
    metrics_token: SecretStr | None = Field(
        default=None, description="Bearer token /metrics asks for; without one, only loopback may scrape"
    )

    @field_validator("public_base_url", "xai_base_url")
    @classmethod
    def _strip_slash(cls, v: str) -> str:
        return v.rstrip("/")

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, v: object) -> object:
        if isinstance(v, str):
            text = v.strip()
            if text.startswith("["):
                return json.loads(text)
            return tuple(origin.strip().rstrip("/") for origin in text.split(",") if origin.strip())
        return v

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.home / 'imagine.db').resolve()}"

    @cached_property
    def resolved_storage_url(self) -> str:
        if self.storage_url:
            return self.storage_url
        return (self.home / "media").resolve().as_uri()

    @property
    def signing_key(self) -> bytes:
        """The secret for media URLs and tokens (the runtime fills it from home when not configured)."""
        if self.secret_key is None:
            raise RuntimeError("no signing secret: set IMAGINE_SECRET_KEY or start the gateway's runtime")
        return self.secret_key.get_secret_value().encode()

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")


def load_settings(**overrides: object) -> Settings:
    """Read the environment once (overrides win; used by tests and the CLI)."""
    return Settings(**overrides)  # type: ignore[arg-type]
