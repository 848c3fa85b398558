"""The gateway's parts, wired once from the settings.

``build_context`` opens no connection: pools, clients and files are opened lazily by their first use,
and ``Runtime`` starts the loops and closes everything. Only the signing secret is settled here,
before anything that signs can run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import SecretStr

from imagine_gateway.catalog.loader import Catalog, load_catalog
from imagine_gateway.core.clock import Clock, SystemClock
from imagine_gateway.core.records import Task
from imagine_gateway.delivery.events import EventBus, MemoryEventBus
from imagine_gateway.delivery.redis_events import RedisEventBus
from imagine_gateway.delivery.webhooks import WebhookDispatcher
from imagine_gateway.media.signing import load_or_create_key
from imagine_gateway.media.storage import Storage, open_storage
from imagine_gateway.providers.registry import build_router
from imagine_gateway.providers.router import Router
from imagine_gateway.services.accounts import AccountService
from imagine_gateway.services.admin import AdminService
from imagine_gateway.services.admin_credits import CreditAdmin
from imagine_gateway.services.file_references import FileReferenceResolver
from imagine_gateway.services.files import FileService
from imagine_gateway.services.generations import GenerationService
from imagine_gateway.services.references import ReferenceResolver
from imagine_gateway.services.reports import ReportService
from imagine_gateway.services.results import ResultService
from imagine_gateway.services.webhooks import WebhookService, build_dispatcher
from imagine_gateway.settings import Settings
from imagine_gateway.store.db import Database
from imagine_gateway.worker.runner import Worker
from imagine_gateway.worker.sweeper import Sweeper

SECRET_KEY_FILE = "secret.key"


@dataclass
class Overrides:
    """Test and tooling hooks: replace a part or skip a step without touching settings."""

    clock: Clock | None = None
    router: Router | None = None
    run_worker: bool | None = None  # None: ``settings.run_worker``
    migrate: bool = True
    announce_sandbox: bool = True  # the CLI prints its own banner
    # False: the worker is built but its loop, the probing, delivery and retention loops do not run,
    # so a test can drive the worker step by step.
    start_loops: bool = True


class TaskView(Protocol):
    """How a task reads in a webhook payload: the status endpoint's JSON of it."""

    def __call__(self, settings: Settings, task: Task, *, now_ms: int) -> dict[str, Any]: ...


@dataclass(kw_only=True)
class Context:
    """Every part of one gateway process; services first, then the loops that run beside them."""

    settings: Settings  # with ``secret_key`` settled: the same secret in every part
    signing_key: bytes
    db: Database
    catalog: Catalog
    clock: Clock
    storage: Storage
    router: Router
    events: EventBus
    # Services (what routes, dialects and the CLI call).
    files: FileService
    references: ReferenceResolver
    generations: GenerationService
    accounts: AccountService
    webhooks: WebhookService
    results: ResultService
    admin: AdminService
    credit_admin: CreditAdmin
    reports: ReportService
    # Loops: present in the processes that run them.
    worker: Worker | None = None
    webhook_dispatcher: WebhookDispatcher | None = None
    sweeper: Sweeper | None = None


def with_signing_key(settings: Settings) -> Settings:
    """``settings`` with ``secret_key`` set: the configured secret, else the one kept under home."""
    if settings.secret_key is not None:
        return settings
    key = load_or_create_key(settings.home / SECRET_KEY_FILE)
    return settings.model_copy(update={"secret_key": SecretStr(key.decode())})


def build_context(
    settings: Settings, overrides: Overrides | None = None, *, webhook_view: TaskView | None = None
) -> Context:
    """Wire every part from the settings.

    The webhook delivery loop is built when ``webhook_view`` is given (the API's processes) and the
    settings enable it; the worker and the retention sweeper when the worker runs in this process.
    """
    overrides = overrides or Overrides()
    settings.home.mkdir(parents=True, exist_ok=True)  # scratch space for renders and downloads
    settings = with_signing_key(settings)
    catalog = load_catalog(settings.catalog_file)
    clock = overrides.clock or SystemClock()
    db = Database(settings.resolved_database_url)
    storage = open_storage(settings.resolved_storage_url)
    router = overrides.router or build_router(settings, catalog)
    events: EventBus = RedisEventBus(settings.redis_url) if settings.redis_url else MemoryEventBus()
    dispatcher = None
    if webhook_view is not None:
        dispatcher = _dispatcher(db, settings, clock, webhook_view)
    files = FileService(db=db, storage=storage, catalog=catalog, clock=clock, settings=settings)
    references = FileReferenceResolver(files)
    generations = GenerationService(
        db=db,
        catalog=catalog,
        clock=clock,
        settings=settings,
        router=router,
        references=references,
        events=events,
    )
    accounts = AccountService(db=db, clock=clock, events=events, key_cache_s=settings.key_cache_s)
    ctx = Context(
        settings=settings,
        signing_key=settings.signing_key,
        db=db,
        catalog=catalog,
        clock=clock,
        storage=storage,
        router=router,
        events=events,
        files=files,
        references=references,
        generations=generations,
        accounts=accounts,
        webhooks=WebhookService(db=db, clock=clock, settings=settings, dispatcher=dispatcher),
        results=ResultService(db=db, storage=storage, clock=clock),
        admin=AdminService(db=db, clock=clock, catalog=catalog, accounts=accounts),
        credit_admin=CreditAdmin(db=db, clock=clock),
        reports=ReportService(db=db, clock=clock, credit_usd=settings.usd_per_credit),
        webhook_dispatcher=dispatcher,
    )
    run_worker = settings.run_worker if overrides.run_worker is None else overrides.run_worker
    if run_worker:
        ctx.worker = Worker(
            db=db,
            catalog=catalog,
            router=router,
            storage=storage,
            references=references,
            events=events,
            clock=clock,
            settings=settings,
        )
        # Retention runs beside the worker; several processes sweeping at once is harmless.
        ctx.sweeper = Sweeper(
            db=db,
            storage=storage,
            clock=clock,
            interval_s=settings.sweep_interval_s,
            temp_max_age_s=settings.temp_max_age_s,
            work_files=[(settings.home / "tmp", "upload-"), (settings.home, "collect-")],
        )
    return ctx


def _dispatcher(db: Database, settings: Settings, clock: Clock, view: TaskView) -> WebhookDispatcher | None:
    """The delivery loop (None when the settings turn delivery off), rendering payloads with ``view``."""

    def render(task: Task) -> dict[str, Any]:
        return view(settings, task, now_ms=clock.now_ms())

    return build_dispatcher(db=db, settings=settings, clock=clock, render_task=render)
