"""The gateway's composition root: every part built from the settings, started and stopped in one place.

    async with Runtime(settings) as rt:          # migrations, event bus, worker, webhooks, sweeper...
        await rt.context.generations.create(principal, request)
        await rt.wait(stop)                      # until stop is set (or a loop ends on its own)

``imagine serve`` runs one inside the ASGI app's lifespan (``api.app.create_app``), ``imagine worker``
runs one with the worker only (``worker.process``), and the tests build theirs the same way.
"""

from imagine_gateway.runtime.context import Context, Overrides, TaskView, build_context
from imagine_gateway.runtime.lifecycle import Runtime

__all__ = ["Context", "Overrides", "Runtime", "TaskView", "build_context"]
