"""The operator's HTTP API under /api/v1/admin (scope ``admin``): accounts, keys, credits, the audit
log, every account's tasks and the margin report."""

from __future__ import annotations

from fastapi import APIRouter

from imagine_gateway.api.admin import accounts, reports

router = APIRouter()
router.include_router(accounts.router)
router.include_router(reports.router)

__all__ = ["router"]
