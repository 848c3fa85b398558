"""xAI's own gRPC API (``xai_api.Video``, ``xai_api.Image``) for the official ``xai-sdk``.

The wire contract is the one the ``xai-sdk`` package ships (its generated ``*_pb2`` modules): a
team's ``xai_sdk.Client(api_key=<gateway key>, api_host="gateway:50051", use_insecure_channel=True)``
works unchanged. Each call goes through the same core as the HTTP dialects: the Bearer key arrives
as ``authorization`` metadata, requests are checked by the xAI dialect's contract, tasks are created
by ``GenerationService`` (dialect ``xai``) and results are the gateway's signed media URLs.

    async with serving(ctx):      # ctx: the API's context; a no-op when IMAGINE_GRPC_PORT is unset
        ...
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from imagine_gateway.api.context import AppContext

if TYPE_CHECKING:
    from imagine_gateway.api.dialects.xai_grpc.server import GrpcServer


@contextlib.asynccontextmanager
async def serving(ctx: AppContext) -> AsyncIterator[GrpcServer | None]:
    """Run the gRPC server for the duration of the block when ``grpc_port`` is set (else yield None)."""
    port = ctx.settings.grpc_port
    if port is None:
        yield None
        return
    # Imported here: grpcio and the SDK's generated modules load only in a gateway that serves gRPC.
    from imagine_gateway.api.dialects.xai_grpc.server import GrpcServer

    server = GrpcServer(ctx, host=ctx.settings.host, port=port)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


__all__ = ["serving"]
