"""What a request to a catalog model uses, for its price: the reservation and the settlement.

A request reserves the most it can cost: the seconds it asks for (an edit: its input's length, or
the longest input its mode takes when the length is not given), the images it asks for (``n``), and
its inputs. When the task succeeds, what was delivered (the stored files' measured seconds, the
images stored) is priced again by the same rule; the capture is that, never more than reserved.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

from imagine_gateway.catalog.contract import ModelContract
from imagine_gateway.catalog.modes import default_role, select_mode
from imagine_gateway.core.pricing import Quote, Usage, exact, seconds
from imagine_gateway.core.results import StoredResult

# Without a mode that bounds it, an input video of unknown length is priced at xAI's longest input.
INPUT_VIDEO_MAX_S = 15


def usage_of(model: ModelContract, params: Mapping[str, Any]) -> Usage:
    """What a request with validated public ``params`` (with ``referenceMediaItems``) asks for."""
    items = [i for i in params.get("referenceMediaItems") or () if isinstance(i, Mapping)]
    roles = [str(i.get("role") or default_role(model, str(i.get("kind")))) for i in items]
    mode = select_mode(model, roles) if model.modes else None
    videos = [i for i in items if i.get("kind") == "video"]
    longest = mode.source_duration[1] if mode is not None and mode.source_duration else INPUT_VIDEO_MAX_S
    input_video_s = sum((_input_seconds(i, longest) for i in videos), Fraction(0))
    output_s = Fraction(0)
    images = 0
    if model.output == "video":
        takes_duration = mode is None or "duration" not in mode.ignores
        duration = params.get("duration")
        if takes_duration and isinstance(duration, int | float) and not isinstance(duration, bool):
            output_s = exact(duration)
        elif mode is not None and mode.endpoint == "edits":
            output_s = input_video_s  # an edit is as long as its input
    else:
        count = params.get("n", 1)
        images = int(count) if isinstance(count, int | float) and not isinstance(count, bool) else 1
    selectors = {k: _text(v) for k, v in params.items() if k != "referenceMediaItems" and v is not None}
    return Usage(
        output_seconds=output_s,
        output_images=images,
        input_images=sum(1 for i in items if i.get("kind") == "image"),
        input_video_seconds=input_video_s,
        selectors=selectors,
        mode=mode.name if mode is not None else None,
    )


def quote(model: ModelContract, params: Mapping[str, Any]) -> Quote:
    """The price of a request: what a create reserves."""
    return model.price_rule.quote(usage_of(model, params))


def delivered_credits(model: ModelContract, params: Mapping[str, Any], result: StoredResult) -> int:
    """The price of what was delivered: the stored videos' measured seconds, the images stored."""
    usage = usage_of(model, params)
    videos = [a for a in result.assets if a.kind == "video"]
    images = [a for a in result.assets if a.kind == "image"]
    measured = [a.duration_s for a in videos if a.duration_s is not None]
    delivered_s = sum((seconds(d) for d in measured), Fraction(0)) if len(measured) == len(videos) else None
    if model.output == "video":
        settled = usage.delivered(seconds=delivered_s if videos else None)
    else:
        settled = usage.delivered(images=len(images))
    return model.price_rule.quote(settled).credits


def delivery_words(result: StoredResult) -> str:
    """What a result holds, for a task's billing reason: "2.97 s of video", "3 images"."""
    videos = [a.duration_s for a in result.assets if a.kind == "video"]
    images = sum(1 for a in result.assets if a.kind == "image")
    if videos and all(d is not None for d in videos):
        total = sum(seconds(d) for d in videos if d is not None)
        return f"{float(total):g} s of video"
    return f"{images} image{'s' if images != 1 else ''}" if images else f"{len(result.assets)} files"


def _input_seconds(item: Mapping[str, Any], longest: float) -> Fraction:
    declared = item.get("durationSeconds")
    if isinstance(declared, int | float) and not isinstance(declared, bool):
        return exact(declared)
    return exact(longest)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def breakdown(q: Quote) -> Sequence[dict[str, Any]]:
    """The lines of a price as the API shows them."""
    return [line.as_data() for line in q.lines]
