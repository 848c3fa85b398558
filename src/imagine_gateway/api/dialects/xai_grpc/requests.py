"""xAI's proto requests as the xAI dialect's JSON bodies, so both are checked by one contract.

Each message becomes the body xAI's REST API takes for the same call (``image`` -> ``{"url"}``,
enums -> their REST strings, unset optional fields left out); ``xai.video_request``,
``video_job_request`` and ``image_call`` then apply the catalog's rules and answer in xAI's codes.
Fields the gateway cannot honour (``storage_options``, ``user``, voice presets, ``file_id``s) reach
those checks too and are refused by name, as over REST.
"""

from __future__ import annotations

from typing import Any

from imagine_gateway.api.dialects.xai import video_job_request, video_request
from imagine_gateway.api.dialects.xai_contract import ImageCall, argument, image_call
from imagine_gateway.api.dialects.xai_grpc.protos import image_pb2, video_pb2
from imagine_gateway.catalog.loader import Catalog
from imagine_gateway.catalog.validation import GenerationRequest

Message = Any  # generated protobuf messages carry no static types


def video_generation(catalog: Catalog, msg: Message) -> GenerationRequest:
    """``GenerateVideoRequest``: a generation, or an edit when ``video`` is set (as at xAI)."""
    body: dict[str, Any] = {"model": msg.model or None, "prompt": msg.prompt or None}
    if msg.HasField("video"):
        for name in ("image", "last_frame", "aspect_ratio", "resolution", "duration"):
            if msg.HasField(name):
                raise argument(name, "cannot be combined with video (a video edit)")
        if msg.reference_images or msg.keyframes:
            field = "reference_images" if msg.reference_images else "keyframes"
            raise argument(field, "cannot be combined with video (a video edit)")
        body["video"] = _video(msg.video)
        _storage(body, msg)
        return video_job_request(catalog, body, mode="video-edit")
    if msg.HasField("image"):
        body["image"] = _image(msg.image)
    if msg.reference_images:
        body["reference_images"] = [_image(i) for i in msg.reference_images]
    if msg.HasField("last_frame"):
        body["last_frame"] = _image(msg.last_frame)
    if msg.keyframes:
        body["keyframes"] = [{"image": _image(k.image), "timestamp_s": k.timestamp_s} for k in msg.keyframes]
    if msg.reference_audios:
        body["reference_audios"] = [{"voice_id": a.voice_id} for a in msg.reference_audios]
    if msg.HasField("duration"):
        body["duration"] = msg.duration
    if msg.HasField("aspect_ratio"):
        ratio = _enum(video_pb2.VideoAspectRatio, msg.aspect_ratio, "VIDEO_ASPECT_RATIO_")
        body["aspect_ratio"] = None if ratio is None else ratio.replace("_", ":")
    if msg.HasField("resolution"):
        body["resolution"] = _enum(video_pb2.VideoResolution, msg.resolution, "VIDEO_RESOLUTION_")
    if msg.HasField("generate_audio"):
        body["generate_audio"] = msg.generate_audio
    _storage(body, msg)
    return video_request(catalog, body)


def video_extension(catalog: Catalog, msg: Message) -> GenerationRequest:
    """``ExtendVideoRequest``: an extension of ``video`` by ``duration`` seconds."""
    body: dict[str, Any] = {"model": msg.model or None, "prompt": msg.prompt or None}
    if msg.HasField("video"):
        body["video"] = _video(msg.video)
    if msg.HasField("duration"):
        body["duration"] = msg.duration
    _storage(body, msg)
    return video_job_request(catalog, body, mode="video-extension")


def image_generation(catalog: Catalog, msg: Message) -> ImageCall:
    """``GenerateImageRequest``: a generation, or an edit of ``image`` / ``images``."""
    body: dict[str, Any] = {"model": msg.model or None, "prompt": msg.prompt or None}
    if msg.HasField("n"):
        body["n"] = msg.n
    if msg.user:
        body["user"] = msg.user
    body["response_format"] = "b64_json" if msg.format == image_pb2.IMG_FORMAT_BASE64 else "url"
    if msg.HasField("quality"):
        body["quality"] = _enum(image_pb2.ImageQuality, msg.quality, "IMG_QUALITY_")
    if msg.HasField("resolution"):
        body["resolution"] = _enum(image_pb2.ImageResolution, msg.resolution, "IMG_RESOLUTION_")
    if msg.HasField("aspect_ratio"):
        ratio = _enum(image_pb2.ImageAspectRatio, msg.aspect_ratio, "IMG_ASPECT_RATIO_")
        body["aspect_ratio"] = None if ratio is None else ratio.replace("19_5", "19.5").replace("_", ":")
    edit = msg.HasField("image") or bool(msg.images)
    if msg.HasField("image"):
        body["image"] = _image(msg.image)
    if msg.images:
        body["images"] = [_image(i) for i in msg.images]
    _storage(body, msg)
    return image_call(catalog, body, edit=edit)


def _image(content: Message) -> dict[str, str]:
    """``ImageUrlContent`` as REST's ``{"url"}`` (a ``file_id`` is passed on, to be refused by name)."""
    if content.file_id:
        return {"file_id": content.file_id}
    return {"url": content.image_url} if content.image_url else {}


def _video(content: Message) -> dict[str, str]:
    if content.file_id:
        return {"file_id": content.file_id}
    return {"url": content.url} if content.url else {}


def _storage(body: dict[str, Any], msg: Message) -> None:
    if msg.HasField("storage_options"):
        body["storage_options"] = {"filename": msg.storage_options.filename}


def _enum(kind: Any, value: int, prefix: str) -> str | None:
    """An enum value as REST's string (``VIDEO_RESOLUTION_720P`` -> ``720p``); unspecified -> None."""
    if value == 0:  # every enum's zero is "unspecified" / "invalid": xAI's default applies
        return None
    try:
        name: str = kind.Name(value)
    except ValueError:
        return str(value)  # a value this contract does not know: the dialect refuses it by name
    return name.removeprefix(prefix).lower()
