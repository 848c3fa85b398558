"""``xai_api.Image``: GenerateImage makes the images and answers when they are done.

The call waits for its task(s) as ``POST /v1/images/generations`` does, bounded by
``IMAGINE_SYNC_WAIT_TIMEOUT_S`` and by the call's own deadline. ``n`` images of a model that makes
them in one call are one task; a model without ``n`` makes one task per image.
"""

from __future__ import annotations

import asyncio
from typing import Any

from imagine_gateway.api.context import AppContext
from imagine_gateway.api.dialects.common import GenerationFailed, create_tasks, task_error, wait_until_ended
from imagine_gateway.api.dialects.xai import DIALECT
from imagine_gateway.api.dialects.xai_contract import xai_codes
from imagine_gateway.api.dialects.xai_grpc.calls import Context, answer, metadata_value
from imagine_gateway.api.dialects.xai_grpc.protos import image_pb2, image_pb2_grpc
from imagine_gateway.api.dialects.xai_grpc.requests import image_generation
from imagine_gateway.api.dialects.xai_grpc.results import generated_images, usage
from imagine_gateway.api.dialects.xai_grpc.video import IDEMPOTENCY_METADATA
from imagine_gateway.core.states import TaskState
from imagine_gateway.services.principal import Principal


class ImageService(image_pb2_grpc.ImageServicer):  # type: ignore[misc]
    """The Image service over the gateway's core."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    async def GenerateImage(self, request: Any, context: Context) -> Any:
        async def run(principal: Principal) -> Any:
            return await self._generate(principal, request, context)

        return await answer(self.ctx, context, "generations:create", run)

    async def _generate(self, principal: Principal, request: Any, context: Context) -> Any:
        ctx = self.ctx
        with xai_codes():
            call = image_generation(ctx.catalog, request)
        key = metadata_value(context, IDEMPOTENCY_METADATA)
        # All or nothing, as over REST: n tasks of one request in one transaction (K#i keys for several).
        with xai_codes():
            tasks = await create_tasks(
                ctx, principal, call.request, count=call.tasks, dialect=DIALECT, idempotency_key=key
            )
        wait_s = ctx.settings.sync_wait_timeout_s
        remaining = context.time_remaining()
        if remaining is not None:
            wait_s = min(wait_s, remaining)
        deadline = asyncio.get_running_loop().time() + wait_s
        images = []
        ticks = 0
        for task in tasks:
            ended = await wait_until_ended(ctx, principal, task.id, deadline=deadline)
            if ended.task_state is not TaskState.SUCCEEDED:
                error = task_error(ended) or {"code": "generation_failed", "message": ""}
                raise GenerationFailed(
                    f"The image generation {ended.id} failed: {error['code']}: {error['message']}"
                )
            images += await generated_images(ctx, ended, inline=call.response_format == "b64_json")
            ticks += usage(ctx, ended).cost_in_usd_ticks
        model = tasks[0].model
        return image_pb2.ImageResponse(images=images, model=model, usage={"cost_in_usd_ticks": ticks})
