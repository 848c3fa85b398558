"""The billing policies: what an ending without a result still costs, as the settings decide.

Three cases, each ``refund`` | ``charge_input`` | ``charge`` (docs/billing.md has the reasoning
behind each default):

- a cancel after the job was sent upstream (``billing_on_cancel_after_submit``, default charge:
  xAI has no cancel, the job runs on and is billed);
- an output the upstream's moderation blocked (``billing_on_moderation``, default charge: xAI
  bills a moderated job as made);
- a submit that may have reached the upstream and whose job cannot be found
  (``billing_on_ambiguous_submit``, default refund: nothing shows the job was made or billed).

``charge_input`` charges what the request's inputs cost by its price rule (input images, seconds
of input video); ``charge`` the whole reservation. A task canceled before submission is always
refunded (``core.transitions`` enforces it), and so is a job of an engine that bills nothing (the
local sandbox: a provider whose ``bills_jobs`` is false).
"""

from __future__ import annotations

from typing import Literal

from imagine_gateway.catalog.loader import Catalog
from imagine_gateway.catalog.prices import quote
from imagine_gateway.core.events import Charge
from imagine_gateway.core.records import Task
from imagine_gateway.settings import BillingPolicy, Settings

Case = Literal["cancel_after_submit", "moderation", "ambiguous_submit"]

_WHY: dict[Case, str] = {
    "cancel_after_submit": "the task was canceled after it was sent upstream, which runs and bills "
    "the job all the same",
    "moderation": "the upstream's moderation blocked the output, and the upstream bills the job as made",
    "ambiguous_submit": "the submit may have reached the upstream, which bills every job it received",
}


def policy_of(settings: Settings, case: Case) -> BillingPolicy:
    """The configured policy for ``case``."""
    if case == "cancel_after_submit":
        return settings.billing_on_cancel_after_submit
    if case == "moderation":
        return settings.billing_on_moderation
    return settings.billing_on_ambiguous_submit


def policy_charge(
    settings: Settings, catalog: Catalog, task: Task, case: Case, *, provider: object = None
) -> Charge | None:
    """What the ending of ``task`` in ``case`` charges; None refunds it in full. ``provider``: the
    one the task went to (an engine that bills nothing is never charged for)."""
    policy = policy_of(settings, case)
    if policy == "refund" or not getattr(provider, "bills_jobs", True):
        return None
    setting = f"IMAGINE_BILLING_ON_{case.upper()}={policy}"
    if policy == "charge":
        return Charge(task.reserved_credits, f"{_WHY[case]} ({setting})")
    model = catalog.get(task.model)
    credits = quote(model, task.params).input_credits if model is not None else 0
    if credits <= 0:
        return None  # a request without priced inputs: nothing to charge for them
    return Charge(credits, f"{_WHY[case]}; its inputs are charged ({setting})")
