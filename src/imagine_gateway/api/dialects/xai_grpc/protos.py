"""The xai-sdk's generated modules: the one source of the wire contract (xAI's proto v6)."""

from __future__ import annotations

from xai_sdk.proto import (
    deferred_pb2,
    image_pb2,
    image_pb2_grpc,
    usage_pb2,
    video_pb2,
    video_pb2_grpc,
)

__all__ = ["deferred_pb2", "image_pb2", "image_pb2_grpc", "usage_pb2", "video_pb2", "video_pb2_grpc"]
