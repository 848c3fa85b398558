"""Signed, expiring URLs for stored media."""

from __future__ import annotations

from typing import Any

from imagine_gateway.core.results import StoredResult
from imagine_gateway.media.signing import sign_media_path
from imagine_gateway.settings import Settings


def media_url(settings: Settings, key: str, *, now_ms: int) -> str:
    # Expiry rounded to the minute, so repeated reads of a task hand out the same URL for a while.
    expires = (now_ms // 1000 + int(settings.media_url_ttl_s)) // 60 * 60
    query = sign_media_path(key, expires_at=expires, secret=settings.signing_key)
    return f"{settings.public_base_url}/media/{key}?{query}"


def result_view(
    settings: Settings, result: StoredResult | None, *, now_ms: int, expires_at: int | None
) -> dict[str, Any] | None:
    """The public ``result``: Rivya's primary_url + urls, plus a ``media`` list with probes."""
    if result is None:
        return None
    if (expires_at is not None and now_ms >= expires_at) or result.expired:
        return {"primary_url": None, "urls": [], "expired": True, "media": []}
    media = []
    urls = []
    for asset in result.assets:
        url = media_url(settings, asset.key, now_ms=now_ms)
        poster = media_url(settings, asset.poster_key, now_ms=now_ms) if asset.poster_key else None
        urls.append(url)
        media.append(
            {
                "url": url,
                "kind": asset.kind,
                "mime_type": asset.mime_type,
                "size_bytes": asset.size_bytes,
                "sha256": asset.sha256,
                "width": asset.width,
                "height": asset.height,
                "duration_seconds": asset.duration_s,
                "poster_url": poster,
            }
        )
    return {"primary_url": urls[0] if urls else None, "urls": urls, "expired": False, "media": media}
