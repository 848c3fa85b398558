"""Top-ups and adjustments by the operator: one ledger row each, safe to retry.

A payment system credits an account by calling the admin API with an ``Idempotency-Key`` (its
payment or event id) and the payment's ``reference``. The key, the ledger row, the audit row and the
answer are written in one transaction, so a retried request with the same key and body gets the first
answer and credits nothing more; the same key with another body is ``idempotency_conflict``. A
``reference`` credits an account once, whatever key it comes with.

    change = await credits.topup(actor, account_id, 500, reference="pi_123", idempotency_key="evt_9")
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError

from imagine_gateway.core.clock import Clock
from imagine_gateway.core.errors import IdempotencyConflict, invalid
from imagine_gateway.core.records import Account, LedgerEntry
from imagine_gateway.services.admin import Actor
from imagine_gateway.store import accounts as account_store
from imagine_gateway.store import audit, ledger
from imagine_gateway.store.db import Database
from imagine_gateway.store.ledger import LedgerKind
from imagine_gateway.store.reports import ledger_page, reference_used

IDEMPOTENCY_KEY_MAX = 255
TEXT_MAX = 200
CREDITS_MAX = 10**12


@dataclass(frozen=True)
class CreditChange:
    """A top-up or adjustment as it landed: its ledger row and the account afterwards."""

    entry: LedgerEntry
    account: Account
    replayed: bool = False


class CreditAdmin:
    """The operator's credit changes (the CLI's ``imagine credits topup`` too)."""

    def __init__(self, *, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def topup(
        self,
        actor: Actor,
        account_id: str,
        credits: object,
        *,
        reference: object = None,
        note: object = None,
        idempotency_key: str | None,
    ) -> CreditChange:
        """Add ``credits`` (> 0) to the account; ``reference`` is the payment it comes from."""
        amount = _credits(credits, positive=True)
        ref = _text(reference, "reference")
        body = {"credits": amount, "reference": ref, "note": _text(note, "note")}
        return await self._change(actor, account_id, "topup", amount, body, idempotency_key)

    async def adjust(
        self, actor: Actor, account_id: str, credits: object, *, reason: object, idempotency_key: str | None
    ) -> CreditChange:
        """Add or take away credits (never below a zero balance), saying why."""
        amount = _credits(credits, positive=False)
        why = _text(reason, "reason")
        if why is None:
            raise invalid("reason", "is required: say why the balance changes")
        body = {"credits": amount, "reason": why}
        return await self._change(actor, account_id, "adjust", amount, body, idempotency_key)

    async def _change(
        self,
        actor: Actor,
        account_id: str,
        kind: LedgerKind,
        amount: int,
        body: dict[str, Any],
        idempotency_key: str | None,
    ) -> CreditChange:
        if idempotency_key is not None and not 0 < len(idempotency_key) <= IDEMPOTENCY_KEY_MAX:
            raise invalid("Idempotency-Key", f"must be 1 to {IDEMPOTENCY_KEY_MAX} characters")
        digest = _fingerprint(kind, account_id, body)
        now = self.clock.now_ms()
        try:
            async with self.db.write() as conn:
                if idempotency_key is not None:
                    first = await audit.claim_request(
                        conn, idempotency_key, fingerprint=digest, now_ms=now, is_sqlite=self.db.is_sqlite
                    )
                    if first is not None:
                        if first.fingerprint != digest:
                            raise IdempotencyConflict(
                                "This Idempotency-Key was already used with a different request."
                            )
                        return _replay(first.response)
                await account_store.get_account(conn, account_id)  # not_found for an unknown account
                if body.get("reference") and await reference_used(conn, account_id, body["reference"]):
                    raise IdempotencyConflict(
                        f"The reference {body['reference']!r} already credited this account."
                    )
                await ledger.post(
                    conn,
                    account_id=account_id,
                    kind=kind,
                    amount=amount,
                    note=body.get("note") or body.get("reason"),
                    reference=body.get("reference"),
                    now_ms=now,
                )
                # The account's newest row is this one: the post holds the account's row until commit.
                entry = (await ledger_page(conn, account_id, before_id=None, limit=1))[0]
                account = await account_store.get_account(conn, account_id)
                change = CreditChange(entry=entry, account=account)
                if idempotency_key is not None:
                    await audit.save_answer(conn, idempotency_key, status=201, response=_stored(change))
                await audit.record(
                    conn,
                    created_at=now,
                    actor=actor.id,
                    actor_account_id=actor.account_id,
                    action=f"credits.{kind}",
                    target_type="account",
                    target_id=account_id,
                    account_id=account_id,
                    details={**body, "ledger_id": entry.id, "idempotency_key": idempotency_key},
                    request_id=actor.request_id,
                )
        except IntegrityError as exc:
            # Two requests with one reference and different keys, at once: one of them credits.
            raise IdempotencyConflict(
                f"The reference {body.get('reference')!r} already credited this account."
            ) from exc
        return change


def _stored(change: CreditChange) -> dict[str, Any]:
    return {"entry": asdict(change.entry), "account": asdict(change.account)}


def _replay(stored: dict[str, Any]) -> CreditChange:
    return CreditChange(
        entry=LedgerEntry(**stored["entry"]), account=Account(**stored["account"]), replayed=True
    )


def _fingerprint(kind: str, account_id: str, body: dict[str, Any]) -> str:
    canonical = json.dumps({"kind": kind, "account_id": account_id, **body}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _credits(value: object, *, positive: bool) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not -CREDITS_MAX <= value <= CREDITS_MAX:
        raise invalid("credits", "must be a whole number of credits", {"max": CREDITS_MAX})
    if positive and value <= 0:
        raise invalid("credits", "must be more than 0 (take credits away with an adjustment)")
    if value == 0:
        raise invalid("credits", "must not be 0")
    return value


def _text(value: object, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > TEXT_MAX:
        raise invalid(field, f"must be a non-empty string of at most {TEXT_MAX} characters")
    return value.strip()


__all__ = ["CreditAdmin", "CreditChange"]
