"""The gRPC server: grpcio's asyncio server on ``IMAGINE_GRPC_PORT``, in the API process's loop."""

from __future__ import annotations

import logging

import grpc

from imagine_gateway.api.context import AppContext
from imagine_gateway.api.dialects.xai_grpc.image import ImageService
from imagine_gateway.api.dialects.xai_grpc.protos import image_pb2_grpc, video_pb2_grpc
from imagine_gateway.api.dialects.xai_grpc.video import VideoService

log = logging.getLogger("imagine_gateway.grpc")

MIB = 1 << 20
# The xai-sdk sends and receives messages of up to 20 MiB (data URLs, base64 images).
MESSAGE_LIMIT = 20 * MIB
STOP_GRACE_S = 5.0


class GrpcServer:
    """xAI's Video and Image services on ``host:port`` (port 0: any free port, see ``.port``)."""

    def __init__(self, ctx: AppContext, *, host: str, port: int) -> None:
        self.ctx = ctx
        self.host = host
        self.requested_port = port
        self.port: int | None = None
        self._server: grpc.aio.Server | None = None

    @property
    def address(self) -> str:
        """``host:port`` as the xai-sdk's ``api_host`` takes it (once started)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port if self.port is not None else self.requested_port}"

    async def start(self) -> None:
        server = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", MESSAGE_LIMIT),
                ("grpc.max_send_message_length", MESSAGE_LIMIT),
                ("grpc.so_reuseport", 0),  # a second gateway on the same port fails instead of sharing it
            ]
        )
        video_pb2_grpc.add_VideoServicer_to_server(VideoService(self.ctx), server)
        image_pb2_grpc.add_ImageServicer_to_server(ImageService(self.ctx), server)
        try:
            port = server.add_insecure_port(self.address)
        except RuntimeError as exc:
            raise RuntimeError(f"cannot listen for gRPC on {self.address}: {exc}") from exc
        if port == 0:
            raise RuntimeError(f"cannot listen for gRPC on {self.address}")
        self.port = port
        await server.start()
        self._server = server
        log.info("xAI gRPC API on %s", self.address)

    async def stop(self) -> None:
        """Stop taking calls; the ones running get ``STOP_GRACE_S`` to finish."""
        server, self._server = self._server, None
        if server is not None:
            await server.stop(STOP_GRACE_S)
