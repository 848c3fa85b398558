"""What xAI's REST API accepts, per model, checked before anything is reserved (xAI's API documentation).

The ranges and combinations come from the catalog's ``modes`` (the same rules the xai provider
serves); this module reads xAI's field names and defaults, and answers in xAI's codes:
``invalid_argument`` for a malformed or out-of-range value, ``failed_precondition`` for a value
the chosen model does not serve (1080p on the classic model, a 1.5-only field elsewhere). Fields
the gateway cannot honour are refused by name, never dropped.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from imagine_gateway.api.dialects.common import (
    Body,
    build_request,
    choice,
    image_url,
    json_object,
    one_of_aliases,
    optional_text,
    required_text,
    whole_number,
)
from imagine_gateway.catalog.contract import ModelContract
from imagine_gateway.catalog.loader import Catalog
from imagine_gateway.catalog.modes import ModeIssue, default_role, mode_issues
from imagine_gateway.catalog.validation import GenerationRequest, ReferenceItem
from imagine_gateway.core.errors import FieldError, ValidationFailed

# xAI's defaults when a field is absent (PROTO/PY; the same for every video model).
DEFAULT_DURATION_S = 8
DEFAULT_ASPECT_RATIO = "16:9"
DEFAULT_RESOLUTION = "480p"
EXTENSION_DEFAULT_S = 6
# xAI's field for each role of a reference file.
ROLE_FIELDS = {
    "first_frame": "image",
    "reference": "reference_images",
    "last_frame": "last_frame",
    "keyframe": "keyframes",
    "audio": "reference_audios",
    "edit": "video",
    "extend": "video",
    "source": "image",
}
# xAI fields this gateway cannot honour, and why (refused, not dropped).
UNHONOURED = {
    "output": "the gateway stores results itself; download them from the result URL",
    "storage_options": "xAI file storage is not offered through this gateway",
    "user": "the gateway sends its own stable id of your account",
}


class InvalidArgument(ValidationFailed):
    """xAI's ``invalid_argument``: the request itself is malformed or out of range."""

    code = "invalid_argument"


class FailedPrecondition(ValidationFailed):
    """xAI's ``failed_precondition``: valid, but not served by this model (or in this mode)."""

    code = "failed_precondition"


def argument(field: str, issue: str, allowed: Any = None) -> InvalidArgument:
    return InvalidArgument(f"{field}: {issue}", [FieldError(field, issue, allowed)])


def precondition(field: str, issue: str, allowed: Any = None) -> FailedPrecondition:
    return FailedPrecondition(f"{field}: {issue}", [FieldError(field, issue, allowed)])


@contextlib.contextmanager
def xai_codes() -> Iterator[None]:
    """Shared field checks raise ``validation_failed``; in this dialect that is ``invalid_argument``,
    and a provider that cannot serve a request is a ``failed_precondition``."""
    try:
        yield
    except (InvalidArgument, FailedPrecondition):
        raise
    except ValidationFailed as exc:
        kind = FailedPrecondition if exc.message.startswith("No configured provider") else InvalidArgument
        raise kind(exc.message, exc.details) from exc


def refuse_unhonoured(body: Body) -> None:
    for name, why in UNHONOURED.items():
        if body.get(name) is not None:
            raise argument(name, f"is not supported by this gateway ({why})")


def find_xai_model(catalog: Catalog, model_id: str, *, output: str) -> tuple[ModelContract, dict[str, Any]]:
    """The catalog model an xAI id (or alias, or catalog id) names, in the engine's shape."""
    resolved = catalog.resolve(model_id)
    if resolved is None or resolved[0].output != output:
        candidates = [m for m in catalog if m.output == output]
        allowed = sorted({m.id for m in candidates} | {a.id for m in candidates for a in m.aliases})
        raise argument("model", f"unknown {output} model '{model_id[:100]}'", allowed)
    model, pinned = resolved
    return model.for_engine(), pinned


def reference(url: str, kind: str, role: str, model: ModelContract, **extra: Any) -> ReferenceItem:
    """A reference item; the role is left implicit when it is the model's default for the kind."""
    implicit = role == default_role(model, kind)
    return ReferenceItem(url=url, kind=kind, role=None if implicit else role, **extra)


def check_modes(
    model: ModelContract,
    params: dict[str, Any],
    refs: tuple[ReferenceItem, ...],
    *,
    prompt: str,
    names: dict[str, str],
) -> None:
    """Raise the first mode rule the request breaks, named as the client named the field."""
    _, issues = mode_issues(model, params, [r.role_use(model) for r in refs], prompt=prompt)
    if not issues:
        return
    issue = issues[0]
    field = _field(issue, refs, names)
    kind = precondition if issue.precondition else argument
    if issue.kind == "combination":
        given = list(dict.fromkeys(ROLE_FIELDS.get(r.role or "first_frame", "image") for r in refs))
        others = [g for g in given if g != field] or given
        combos = {m.name: sorted({ROLE_FIELDS[r] for r in m.roles}) for m in model.modes}
        raise kind(field, f"cannot be combined with {', '.join(others)} on {model.id}", combos)
    raise kind(field, issue.message, issue.allowed)


def _field(issue: ModeIssue, refs: tuple[ReferenceItem, ...], names: dict[str, str]) -> str:
    if issue.kind == "param":
        return names.get(issue.key, issue.key)
    if issue.kind == "prompt":
        return "prompt"
    if issue.kind == "combination":
        roles = [r.role or "first_frame" for r in refs]
        given = [ROLE_FIELDS.get(r, r) for r in dict.fromkeys(roles)]
        return given[-1] if given else "model"
    return ROLE_FIELDS.get(issue.key, issue.key)


def media_list(body: Body, name: str, *, limit: int) -> list[str]:
    """``[{url}, ...]`` of 1..limit items."""
    value = body.get(name)
    if not isinstance(value, list) or not value:
        raise argument(name, "must be a non-empty array of {url} objects", {"max_items": limit})
    if len(value) > limit:
        raise argument(name, f"has {len(value)} items; at most {limit}", {"max_items": limit})
    return [image_url(item, f"{name}[{i}]") for i, item in enumerate(value)]


def keyframes(body: Body) -> list[tuple[str, float]]:
    value = body.get("keyframes")
    if not isinstance(value, list) or not value or len(value) > 4:
        raise argument(
            "keyframes", "must be an array of 1 to 4 {image, timestamp_s} objects", {"max_items": 4}
        )
    out = []
    for index, item in enumerate(value):
        where = f"keyframes[{index}]"
        if not isinstance(item, dict) or item.get("image") is None:
            raise argument(f"{where}.image", "is required")
        stamp = item.get("timestamp_s")
        if isinstance(stamp, bool) or not isinstance(stamp, int | float):
            raise argument(f"{where}.timestamp_s", "must be a number of seconds")
        out.append((image_url(item["image"], f"{where}.image"), float(stamp)))
    return out


def audio_list(body: Body) -> list[str]:
    value = body.get("reference_audios")
    if not isinstance(value, list) or not value or len(value) > 3:
        raise argument("reference_audios", "must be an array of 1 to 3 {url} objects", {"max_items": 3})
    urls = []
    for index, item in enumerate(value):
        if isinstance(item, dict) and item.get("voice_id") is not None:
            raise argument(
                f"reference_audios[{index}].voice_id", "is not supported; pass the url of an audio file"
            )
        urls.append(image_url(item, f"reference_audios[{index}]"))
    return urls


def boolean(body: Body, name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise argument(name, "must be a boolean", [True, False])
    return "true" if value else "false"


# --- images ------------------------------------------------------------------------------------

IMAGE_ASPECT_RATIOS = (
    "1:1",
    "3:4",
    "4:3",
    "9:16",
    "16:9",
    "2:3",
    "3:2",
    "9:19.5",
    "19.5:9",
    "9:20",
    "20:9",
    "1:2",
    "2:1",
    "21:9",
    "5:2",
    "auto",
)
IMAGE_DEFAULT_MODEL = "grok-imagine-image"
IMAGES_MAX = 10


class ImageCall:
    """A checked images body: the core request, how many tasks it makes, and how to answer."""

    def __init__(
        self, request: GenerationRequest, *, tasks: int, response_format: str, deferred: bool
    ) -> None:
        self.request = request
        # A model with an ``n`` param makes all its images in one task (one upstream call); a
        # seed's model without one makes one task per image.
        self.tasks = tasks
        self.response_format = response_format
        self.deferred = deferred


def image_call(catalog: Catalog, raw: Any, *, edit: bool) -> ImageCall:
    """Check an images generations/edits body (xAI's contract; OpenAI's ``size`` also understood)."""
    body = json_object(raw)
    refuse_unhonoured(body)
    model, pinned = find_xai_model(
        catalog, optional_text(body, "model") or IMAGE_DEFAULT_MODEL, output="image"
    )
    prompt = required_text(body, "prompt", allowed={"max_length": model.max_prompt_length})
    n = _whole(body, "n", low=1, high=IMAGES_MAX, default=1)
    response_format = choice(body, "response_format", ("url", "b64_json"), default="url")
    deferred = body.get("deferred") is True
    if body.get("deferred") not in (None, True, False):
        raise argument("deferred", "must be a boolean")
    one_call = model.param("n") is not None
    if deferred and n != 1 and not one_call:
        raise precondition("n", f"must be 1 when deferred is true on {model.id}", {"max": 1})
    if deferred and response_format != "url":
        raise argument("response_format", "must be url when deferred is true", ["url"])
    params: dict[str, Any] = {"n": n} if one_call else {}
    for name in ("resolution", "quality"):
        spec = model.param(name)
        if spec is None:
            if body.get(name) is not None and (name == "quality" or body[name] != "1k"):
                raise precondition(
                    name, f"is not available for {model.id}", [] if name == "quality" else ["1k"]
                )
            continue
        if body.get(name) is not None:
            params[name] = choice(body, name, spec.options or (), default="")
    aspect_field = one_of_aliases(body, "aspect_ratio", "size")
    if aspect_field == "size":
        params["aspect_ratio"] = _aspect_of_size(body["size"])
    elif aspect_field == "aspect_ratio":
        aspect = choice(body, "aspect_ratio", IMAGE_ASPECT_RATIOS, default="auto")
        if aspect != "auto":
            params["aspect_ratio"] = aspect
    params.update(pinned)
    references: tuple[ReferenceItem, ...] = ()
    source: str | None = None
    if edit:
        source = one_of_aliases(body, "image", "images")
        if source is None:
            raise argument("image", "is required (or images)", ["image", "images"])
        mode = model.mode("image-edit")
        limit = mode.role_max("source") if mode is not None else 1
        if source == "image":
            urls = [image_url(body["image"], "image")]
        else:
            items = body["images"]
            if not isinstance(items, list) or not items or len(items) > limit:
                raise argument("images", f"must be an array of 1 to {limit} images", {"max_items": limit})
            urls = [image_url(v, f"images[{i}]") for i, v in enumerate(items)]
        references = tuple(reference(u, "image", "source", model) for u in urls)
        check_modes(model, params, references, prompt=prompt, names={})
    gen = build_request(model, prompt, params, references=references, reference_field=source or "image")
    return ImageCall(gen, tasks=1 if one_call else n, response_format=response_format, deferred=deferred)


def _whole(body: Body, name: str, *, low: int, high: int, default: int) -> int:
    value = body.get(name)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise argument(name, "must be an integer", {"min": low, "max": high})
    return whole_number(body, name, low=low, high=high, default=default)


def _aspect_of_size(value: Any) -> str:
    """OpenAI's ``size`` ("1024x1024", "1792x1024", ...) as the nearest listed aspect ratio (within 2 %)."""
    ratios = [r for r in IMAGE_ASPECT_RATIOS if r != "auto"]
    width, _, height = str(value).lower().partition("x")
    if not (width.isdigit() and height.isdigit() and int(width) > 0 and int(height) > 0):
        raise argument("size", "must be WIDTHxHEIGHT, e.g. 1024x1024")
    wanted = int(width) / int(height)
    for ratio in ratios:
        a, b = ratio.split(":")
        if abs(float(a) / float(b) - wanted) / wanted <= 0.02:
            return ratio
    raise argument("size", f"{value} has no supported aspect ratio", ratios)
