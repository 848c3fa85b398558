"""Where media blobs live: one ``Storage`` interface, a local-directory and an S3 backend.

    storage = open_storage("file:///var/lib/imagine/media")
    blob = await storage.put_bytes("uploads/file_xyz.png", png, content_type="image/png")
    async for chunk in storage.read_range(blob.key, 0, None): ...
    await storage.aclose()

URLs accepted by ``open_storage``:

- ``file:///abs/path``: ``LocalStorage`` rooted at that directory.
- ``s3://bucket?endpoint=http://127.0.0.1:9000&region=us-east-1&prefix=media/``: ``S3Storage``. The
  prefix may also be given as the path (``s3://bucket/media/``). Credentials come from
  ``?access_key=&secret_key=`` or else boto3's usual chain (``AWS_ACCESS_KEY_ID`` /
  ``AWS_SECRET_ACCESS_KEY``, profiles, instance roles). A URL with credentials is a secret: never log it.
"""

from __future__ import annotations

import pathlib
import urllib.parse

from imagine_gateway.media.storage.base import Storage, StoredBlob, validate_key
from imagine_gateway.media.storage.local import LocalStorage
from imagine_gateway.media.storage.s3 import S3Storage

__all__ = ["LocalStorage", "S3Storage", "Storage", "StoredBlob", "open_storage", "validate_key"]

_S3_PARAMS = frozenset({"endpoint", "region", "prefix", "access_key", "secret_key"})


def open_storage(url: str) -> Storage:
    """The backend a storage URL names; ``ValueError`` saying what is wrong with a bad URL."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "file":
        return _open_local(parts)
    if parts.scheme == "s3":
        return _open_s3(parts)
    raise ValueError(f"storage URL must start with file:// or s3://, got scheme {parts.scheme!r}")


def _open_local(parts: urllib.parse.SplitResult) -> LocalStorage:
    if parts.netloc not in ("", "localhost"):
        raise ValueError("file storage URL must be file:///absolute/path (no host)")
    if parts.query or parts.fragment:
        raise ValueError("file storage URL takes no query or fragment")
    path = pathlib.Path(urllib.parse.unquote(parts.path))
    if not path.is_absolute():
        raise ValueError("file storage URL must name an absolute path")
    return LocalStorage(path)


def _open_s3(parts: urllib.parse.SplitResult) -> S3Storage:
    if not parts.netloc:
        raise ValueError("s3 storage URL must name a bucket: s3://bucket")
    params: dict[str, str] = {}
    for name, value in urllib.parse.parse_qsl(parts.query, keep_blank_values=True, strict_parsing=False):
        if name not in _S3_PARAMS:
            raise ValueError(f"unknown s3 storage URL parameter {name!r}; allowed: {sorted(_S3_PARAMS)}")
        if name in params:
            raise ValueError(f"s3 storage URL parameter {name!r} given twice")
        params[name] = value
    path_prefix = urllib.parse.unquote(parts.path).lstrip("/")
    if path_prefix and "prefix" in params:
        raise ValueError("s3 storage URL gives a prefix both as path and as ?prefix=")
    endpoint = params.get("endpoint") or None
    if endpoint is not None and urllib.parse.urlsplit(endpoint).scheme not in ("http", "https"):
        raise ValueError("s3 storage URL endpoint must be an http:// or https:// URL")
    access_key = params.get("access_key") or None
    secret_key = params.get("secret_key") or None
    if (access_key is None) != (secret_key is None):
        raise ValueError("s3 storage URL must give both access_key and secret_key, or neither")
    return S3Storage(
        bucket=parts.netloc,
        prefix=params.get("prefix", path_prefix),
        endpoint_url=endpoint,
        region=params.get("region") or None,
        access_key=access_key,
        secret_key=secret_key,
    )
