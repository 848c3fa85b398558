"""Tasks as xAI's proto answers: deferred statuses, videos and images with the signed media URLs,
and the cost the xai-sdk reads from ``usage.cost_in_usd_ticks``."""

from __future__ import annotations

import base64
from decimal import ROUND_DOWN, Decimal
from typing import Any

from imagine_gateway.api.context import AppContext
from imagine_gateway.api.dialects.common import GenerationFailed, result_media, task_error, whole_seconds
from imagine_gateway.api.dialects.xai_grpc.protos import deferred_pb2, image_pb2, usage_pb2, video_pb2
from imagine_gateway.core.records import Task
from imagine_gateway.core.states import CreditsState, TaskState

TICKS_PER_USD = 10**10  # xAI's unit: 1 tick = 1e-10 USD


def usage(ctx: AppContext, task: Task) -> Any:
    """The credits the task was charged, in USD ticks at ``IMAGINE_USD_PER_CREDIT`` (0 unless captured)."""
    credits = task.final_credits if task.credits is CreditsState.CAPTURED else 0
    ticks = (Decimal(credits) * ctx.settings.usd_per_credit * TICKS_PER_USD).to_integral_value(ROUND_DOWN)
    return usage_pb2.SamplingUsage(cost_in_usd_ticks=int(ticks))


def deferred_video(ctx: AppContext, task: Task) -> Any:
    """``GetDeferredVideoResponse``: PENDING with progress, DONE, FAILED with the error, or EXPIRED."""
    state = task.task_state
    if not state.is_terminal:
        response = video_pb2.VideoResponse(model=task.model, progress=task.progress)
        return video_pb2.GetDeferredVideoResponse(status=deferred_pb2.PENDING, response=response)
    if state is not TaskState.SUCCEEDED:
        error = task_error(task) or {"code": "generation_failed", "message": "The generation failed."}
        response = video_pb2.VideoResponse(
            model=task.model,
            progress=task.progress,
            error=video_pb2.VideoError(code=error["code"], message=error["message"]),
            usage=usage(ctx, task),
        )
        return video_pb2.GetDeferredVideoResponse(status=deferred_pb2.FAILED, response=response)
    media = result_media(ctx, task)
    if not media:
        return video_pb2.GetDeferredVideoResponse(status=deferred_pb2.EXPIRED)
    video = video_pb2.GeneratedVideo(
        url=media[0]["url"],
        duration=whole_seconds(media[0]["duration_seconds"]) or 0,
        respect_moderation=True,
    )
    response = video_pb2.VideoResponse(video=video, model=task.model, usage=usage(ctx, task), progress=100)
    return video_pb2.GetDeferredVideoResponse(status=deferred_pb2.DONE, response=response)


async def generated_images(ctx: AppContext, task: Task, *, inline: bool) -> list[Any]:
    """Every image of a succeeded task: its signed URL, or its bytes as a data URL when ``inline``."""
    media = result_media(ctx, task)
    if not media:
        raise GenerationFailed(f"The image of {task.id} is no longer stored.")
    images = []
    for index, item in enumerate(media):
        if inline:
            data = base64.b64encode(await ctx.results.read_asset(task, index)).decode()
            images.append(
                image_pb2.GeneratedImage(
                    base64=f"data:{item['mime_type']};base64,{data}", respect_moderation=True
                )
            )
        else:
            images.append(image_pb2.GeneratedImage(url=item["url"], respect_moderation=True))
    return images
