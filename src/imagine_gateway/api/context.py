"""Everything a request handler needs, built once per app from the settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from imagine_gateway.catalog.loader import Catalog
from imagine_gateway.core.clock import Clock
from imagine_gateway.delivery.events import EventBus
from imagine_gateway.media.storage import Storage
from imagine_gateway.providers.router import Router
from imagine_gateway.services.generations import GenerationService
from imagine_gateway.services.references import ReferenceResolver
from imagine_gateway.settings import Settings
from imagine_gateway.store.db import Database

if TYPE_CHECKING:
    from imagine_gateway.api.ratelimit import RateLimiter
    from imagine_gateway.delivery.webhooks import WebhookDispatcher
    from imagine_gateway.services.accounts import AccountService
    from imagine_gateway.services.files import FileService
    from imagine_gateway.services.results import ResultService
    from imagine_gateway.services.webhooks import WebhookService
    from imagine_gateway.worker.runner import Worker


@dataclass
class AppContext:
    settings: Settings
    db: Database
    catalog: Catalog
    clock: Clock
    storage: Storage
    router: Router
    events: EventBus
    references: ReferenceResolver
    generations: GenerationService
    limiter: RateLimiter
    accounts: AccountService
    webhooks: WebhookService
    results: ResultService
    worker: Worker | None = None
    files: FileService | None = None
    # The webhook delivery loop this process runs (None when delivery is off).
    webhook_dispatcher: WebhookDispatcher | None = None
