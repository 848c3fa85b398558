"""Choosing a provider for a task, and keeping track of which providers are healthy.

A new task goes to the best provider that can serve its exact params, is healthy and has submit
rate to spare (order: ``routing.order``); the worker fails over along ``candidates`` when a submit
fails safely. Tasks already sent somewhere always go back to that provider (``get``).
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import re
from collections.abc import Iterable, Sequence
from typing import Any, Protocol, runtime_checkable

from imagine_gateway.catalog.contract import ModelContract
from imagine_gateway.core.errors import FieldError, ValidationFailed
from imagine_gateway.providers.base import Provider, ProviderError, ProviderMisconfigured, ProviderUnavailable
from imagine_gateway.providers.health import Breaker
from imagine_gateway.providers.routing import Lane, order

log = logging.getLogger("imagine_gateway.providers")

DEFAULT_FAILURE_THRESHOLD = 5
DEFAULT_COOL_DOWN_S = 30.0
PROBE_TIMEOUT_S = 10.0
# Anything shaped like a credential in an upstream's message (some echo a part of the key back).
_SECRETISH = re.compile(r"\b(?:Bearer\s+)?([A-Za-z0-9][A-Za-z0-9_\-]{3})[A-Za-z0-9_\-*]{12,}")


def mask_secrets(text: str) -> str:
    """``text`` with every key-like token cut to its first four characters."""
    return _SECRETISH.sub(lambda m: f"{m.group(1)}***", text)


def refuses_configuration(error: ProviderError | None) -> bool:
    """True for an error that says the upstream refuses our key or address (not a passing failure)."""
    if isinstance(error, ProviderMisconfigured):
        return True
    # A provider that raises the plain class for a refusal still says so: not worth retrying there.
    return isinstance(error, ProviderUnavailable) and not error.retryable


@runtime_checkable
class Probeable(Protocol):
    async def probe(self) -> bool:
        """True when the upstream answers and accepts our key."""
        ...


class Router:
    """Providers (one lane per provider credential) with their routing policy and health."""

    def __init__(
        self,
        providers: Sequence[Provider] = (),
        *,
        lanes: Sequence[Lane] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if lanes is None:
            lanes = [
                Lane(
                    p, priority=i, weight=1.0, breaker=Breaker(DEFAULT_FAILURE_THRESHOLD, DEFAULT_COOL_DOWN_S)
                )
                for i, p in enumerate(providers)
            ]
        if not lanes:
            raise ValueError("at least one provider is needed")
        self._lanes = list(lanes)
        self._by_name = {lane.name: lane for lane in self._lanes}
        if len(self._by_name) != len(self._lanes):
            raise ValueError("provider names must be unique")
        self._rng = rng or random.Random()

    @property
    def providers(self) -> list[Provider]:
        return [lane.provider for lane in self._lanes]

    def get(self, name: str) -> Provider | None:
        lane = self._by_name.get(name)
        return lane.provider if lane else None

    def health(self) -> dict[str, str]:
        """Breaker state per provider: closed | open | probing."""
        return {lane.name: lane.breaker.state for lane in self._lanes}

    def misconfigured(self) -> dict[str, str]:
        """The providers whose upstream refuses our configuration, with the upstream's reason."""
        return {lane.name: lane.breaker.misconfigured for lane in self._lanes if lane.breaker.misconfigured}

    def serving(self, model: ModelContract) -> list[str]:
        """The providers configured for ``model`` and not known to be misconfigured."""
        return [
            lane.name
            for lane in self._lanes
            if lane.provider.unsupported(model, {}) is None and lane.breaker.misconfigured is None
        ]

    def out_for_s(self, model: ModelContract, params: dict[str, Any]) -> float | None:
        """How long every provider able to serve this request has been out (the shortest of
        them); None while one of them is in, if perhaps busy or rate-limited for a moment."""
        out = []
        for lane in self._lanes:
            if lane.provider.unsupported(model, params) is not None:
                continue
            out_s = lane.breaker.out_for_s()
            if out_s is None:
                return None
            out.append(out_s)
        return min(out) if out else math.inf

    def why_none(self, model: ModelContract, params: dict[str, Any]) -> str:
        """Why no provider takes this request now, one clause per provider that could serve it."""
        reasons = []
        for lane in self._lanes:
            if lane.provider.unsupported(model, params) is not None:
                continue
            breaker = lane.breaker
            if breaker.misconfigured is not None:
                why = breaker.misconfigured
                reasons.append(f"{lane.name}: the upstream refuses the gateway's configuration ({why})")
            elif breaker.state != "closed":
                reasons.append(f"{lane.name}: out after repeated failures")
            else:
                reasons.append(f"{lane.name}: busy or asked us to wait")
        return "; ".join(reasons) or "no configured provider serves this request"

    def mark_misconfigured(self, name: str, reason: str) -> None:
        """Take a provider out because its upstream refuses our key; said loudly the first time."""
        lane = self._by_name.get(name)
        if lane is None:
            return
        reason = mask_secrets(reason)
        if lane.breaker.mark_misconfigured(reason):
            log.error(
                "provider %s is MISCONFIGURED: the upstream refuses the gateway's key or address (%s); "
                "it gets no new tasks until a probe passes. Check its API key and base URL.",
                name,
                reason,
                extra={"provider": name},
            )

    def candidates(
        self, model: ModelContract, params: dict[str, Any], *, exclude: Iterable[str] = ()
    ) -> list[Provider]:
        """Providers able and ready to take this request now, best first."""
        skip = set(exclude)
        ready = [
            lane
            for lane in self._lanes
            if lane.name not in skip
            and lane.open_for_new_work()
            and lane.provider.unsupported(model, params) is None
        ]
        return [lane.provider for lane in order(ready, self._rng)]

    def pick(
        self, model: ModelContract, params: dict[str, Any], *, exclude: Iterable[str] = ()
    ) -> Provider | None:
        """The best candidate, its submit-rate token taken (no await between choosing and taking)."""
        for provider in self.candidates(model, params, exclude=exclude):
            bucket = self._by_name[provider.name].bucket
            if bucket is None or bucket.take():
                return provider
        return None

    def check(self, model: ModelContract, params: dict[str, Any]) -> None:
        """Raise ``validation_failed`` saying what can be served when no provider can take it.

        Only capability counts here; a provider that is down now may be back before the task runs.
        """
        reasons: dict[tuple[str, str], list[str]] = {}
        for lane in self._lanes:
            why = lane.provider.unsupported(model, params)
            if why is None:
                return
            field, _, issue = why.partition(": ") if why.startswith("params.") else ("model", "", why)
            reasons.setdefault((field, issue), [])
            base = lane.name.split("#", 1)[0]
            if base not in reasons[(field, issue)]:
                reasons[(field, issue)].append(base)
        details = [
            FieldError(field, f"{', '.join(names)}: {issue}", None)
            for (field, issue), names in reasons.items()
        ]
        first = details[0]
        raise ValidationFailed(
            f"No configured provider can serve this: {first.field}: {first.issue}", details
        )

    def record_success(self, name: str) -> None:
        if (lane := self._by_name.get(name)) is not None:
            lane.breaker.record_success()

    def record_failure(
        self, name: str, *, retry_after_s: float | None = None, error: ProviderError | None = None
    ) -> None:
        """Count a failure (``error``, when given, may show the provider misconfigured)."""
        if refuses_configuration(error):
            assert error is not None
            self.mark_misconfigured(name, error.message)
            return
        lane = self._by_name.get(name)
        if lane is None:
            return
        was = lane.breaker.state
        lane.breaker.record_failure(retry_after_s=retry_after_s)
        if was == "closed" and lane.breaker.state == "open":
            log.warning(
                "provider %s taken out after %d failures; probing again in %.0f s",
                name,
                lane.breaker.failures,
                lane.breaker.cool_down_s,
            )

    async def probe_due(self) -> dict[str, bool]:
        """Probe every provider whose breaker has cooled down; a success puts it back."""
        due = [lane for lane in self._lanes if lane.breaker.probe_due()]
        results = await asyncio.gather(*(self._probe(lane) for lane in due))
        return {lane.name: ok for lane, ok in zip(due, results, strict=True)}

    async def _probe(self, lane: Lane) -> bool:
        ok = True
        if isinstance(lane.provider, Probeable):
            try:
                ok = await asyncio.wait_for(lane.provider.probe(), PROBE_TIMEOUT_S)
            except ProviderMisconfigured as exc:
                lane.breaker.probe_result(False)
                self.mark_misconfigured(lane.name, exc.message)
                return False
            except Exception:  # a probe that cannot even run counts as a failed probe
                ok = False
        lane.breaker.probe_result(ok)
        if ok or lane.breaker.misconfigured is None:
            log.warning(
                "provider %s probe %s", lane.name, "succeeded: back in" if ok else "failed: still out"
            )
        return ok

    async def aclose(self) -> None:
        for lane in self._lanes:
            await lane.provider.aclose()
