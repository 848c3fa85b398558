"""``xai_api.Video``: GenerateVideo and ExtendVideo start a task; GetDeferredVideo reports it.

The xai-sdk's ``video.generate`` calls GenerateVideo, then GetDeferredVideo every second until the
status is DONE (the video's signed URL, duration and cost), FAILED (our error code and message, which
the SDK raises as ``VideoGenerationError``) or EXPIRED (the result was removed after retention).
"""

from __future__ import annotations

from typing import Any

from imagine_gateway.api.context import AppContext
from imagine_gateway.api.dialects.common import create_task, read_task
from imagine_gateway.api.dialects.xai import DIALECT
from imagine_gateway.api.dialects.xai_contract import xai_codes
from imagine_gateway.api.dialects.xai_grpc.calls import Context, answer, metadata_value
from imagine_gateway.api.dialects.xai_grpc.protos import deferred_pb2, video_pb2_grpc
from imagine_gateway.api.dialects.xai_grpc.requests import video_extension, video_generation
from imagine_gateway.api.dialects.xai_grpc.results import deferred_video
from imagine_gateway.services.principal import Principal

IDEMPOTENCY_METADATA = "idempotency-key"


class VideoService(video_pb2_grpc.VideoServicer):  # type: ignore[misc]
    """The Video service over the gateway's core."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    async def GenerateVideo(self, request: Any, context: Context) -> Any:
        async def run(principal: Principal) -> Any:
            with xai_codes():
                gen = video_generation(self.ctx.catalog, request)
            return await self._start(principal, gen, context)

        return await answer(self.ctx, context, "generations:create", run)

    async def ExtendVideo(self, request: Any, context: Context) -> Any:
        async def run(principal: Principal) -> Any:
            with xai_codes():
                gen = video_extension(self.ctx.catalog, request)
            return await self._start(principal, gen, context)

        return await answer(self.ctx, context, "generations:create", run)

    async def GetDeferredVideo(self, request: Any, context: Context) -> Any:
        async def run(principal: Principal) -> Any:
            task = await read_task(self.ctx, principal, request.request_id, output="video")
            return deferred_video(self.ctx, task)

        return await answer(self.ctx, context, "generations:read", run)

    async def _start(self, principal: Principal, gen: Any, context: Context) -> Any:
        with xai_codes():
            task = await create_task(
                self.ctx,
                principal,
                gen,
                dialect=DIALECT,
                idempotency_key=metadata_value(context, IDEMPOTENCY_METADATA),
            )
        return deferred_pb2.StartDeferredResponse(request_id=task.id)
