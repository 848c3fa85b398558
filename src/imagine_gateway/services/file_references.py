"""Resolving ``params.referenceMediaItems`` against the Files API (the ``ReferenceResolver`` the
gateway runs with): our uploads by URL, external ``https`` URLs through the guarded fetcher, and
duration tokens."""

from __future__ import annotations

import dataclasses
import urllib.parse
from collections import OrderedDict
from collections.abc import AsyncIterator

import httpx

from imagine_gateway.catalog.contract import ModelContract
from imagine_gateway.catalog.validation import ReferenceItem
from imagine_gateway.core.errors import (
    invalid,
)
from imagine_gateway.core.ids import new_id
from imagine_gateway.core.records import FileRecord
from imagine_gateway.media.sniff import extension_for, kind_of
from imagine_gateway.net import FetchPolicy, Resolver, fetch_guarded
from imagine_gateway.providers.base import ReferenceInput
from imagine_gateway.services.files import FileService
from imagine_gateway.services.upload_rules import (
    KIND_NAMES,
    MIB,
    allowed_mime_types,
    clean_name,
    size_limit,
)
from imagine_gateway.store import files as file_store

__all__ = ["FileReferenceResolver"]


class FileReferenceResolver:
    """``params.referenceMediaItems`` for the task pipeline (implements ``ReferenceResolver``).

    An item's ``url`` is either one of our uploads (recognised by its path under ``public_base_url``,
    whatever its ``exp``/``sig``; it must belong to the caller and not have expired) or, only for a
    model with ``url_input_supported``, an external ``https`` URL. An external URL is fetched once,
    at check time, through ``fetch_guarded`` (no private addresses after DNS, on every redirect), and
    the copy is kept as a file row so ``load`` reads it from storage. A ``durationToken`` is verified
    whenever present. ``dns`` and ``transport`` are for tests.
    """

    def __init__(
        self,
        files: FileService,
        *,
        fetch_policy: FetchPolicy | None = None,
        dns: Resolver | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        cache_bytes: int = 32 * MIB,
    ) -> None:
        self.files = files
        self.fetch_policy = fetch_policy or FetchPolicy()
        self.dns = dns
        self.transport = transport
        self._cache: OrderedDict[str, bytes] = OrderedDict()
        self._cache_bytes = cache_bytes

    async def check(self, account_id: str, model: ModelContract, items: tuple[ReferenceItem, ...]) -> None:
        """Raise ``ValidationFailed`` unless every item may be used by this account for this model."""
        if not items:
            return
        name = "params.referenceMediaItems"
        policy = model.reference_media
        if policy is None:
            raise invalid(name, f"{model.id} takes no reference files")
        if len(items) > policy.max_files:
            raise invalid(
                name,
                f"has {len(items)} items; this model accepts at most {policy.max_files}",
                {"max_files": policy.max_files, "kinds": list(policy.kinds)},
            )
        for index, item in enumerate(items):
            where = f"{name}[{index}]"
            if item.kind not in policy.kinds:
                raise invalid(
                    f"{where}.kind", f"'{item.kind}' is not accepted by this model", list(policy.kinds)
                )
            file_id = self.files.file_id_from_url(item.url)
            if file_id is None:
                await self._fetch(account_id, model, item, where)
            else:
                record = await self._own_file(account_id, file_id, where)
                self._check_file(account_id, model, item, record, where)

    async def load(self, account_id: str, items: tuple[ReferenceItem, ...]) -> tuple[ReferenceInput, ...]:
        """The items' bytes from storage, with a signed URL of our copy for upstreams that fetch."""
        loaded: list[ReferenceInput] = []
        for index, item in enumerate(items):
            where = f"params.referenceMediaItems[{index}]"
            file_id = self.files.file_id_from_url(item.url)
            if file_id is not None:
                record = await self._own_file(account_id, file_id, where)
            else:
                async with self.files.db.read() as conn:
                    found = await file_store.latest_fetched(
                        conn, account_id=account_id, source_url=item.url, now_ms=self.files.clock.now_ms()
                    )
                if found is None:
                    raise invalid(f"{where}.url", "the fetched copy of this URL has expired")
                record = found
            loaded.append(
                ReferenceInput(
                    kind=record.kind,
                    mime_type=record.mime_type,
                    data=await self._bytes(record),
                    url=self.files.public_url(record),
                    role=item.role,
                    timestamp_s=item.timestamp_s,
                )
            )
        return tuple(loaded)

    async def _own_file(self, account_id: str, file_id: str, where: str) -> FileRecord:
        async with self.files.db.read() as conn:
            record = await file_store.get_file(conn, file_id, account_id=account_id)
        if record is None:
            # Another account's file reads the same as a missing one: ids are not confirmed to strangers.
            raise invalid(
                f"{where}.url",
                "is not a file of this account",
                "the url of a file this account uploaded through POST /api/v1/files",
            )
        if record.expires_at <= self.files.clock.now_ms():
            raise invalid(f"{where}.url", f"file {file_id} has expired; upload it again")
        return record

    def _check_file(
        self, account_id: str, model: ModelContract, item: ReferenceItem, record: FileRecord, where: str
    ) -> None:
        if record.kind != item.kind:
            raise invalid(
                f"{where}.kind", f"the file is {KIND_NAMES[record.kind]}, not {item.kind}", [record.kind]
            )
        self._check_policy(model, record.kind, record.mime_type, record.size_bytes, f"{where}.url")
        duration = record.duration_s
        if item.duration_token is not None:
            duration = self.files.verify_duration_token(
                item.duration_token, account_id=account_id, file_id=record.id, field=f"{where}.durationToken"
            )
        if item.duration_s is not None and duration is not None and abs(item.duration_s - duration) > 0.05:
            raise invalid(
                f"{where}.durationSeconds", f"does not match the file's duration of {duration:g} s", duration
            )

    def _check_policy(self, model: ModelContract, kind: str, mime: str, size: int, field: str) -> None:
        allowed = allowed_mime_types(kind, model)
        if mime not in allowed:
            raise invalid(field, f"file type {mime} is not accepted by {model.id}", allowed)
        limit = size_limit(kind, model)
        if size > limit:
            raise invalid(
                field, f"file is {size} bytes; {model.id} accepts at most {limit}", f"at most {limit} bytes"
            )

    async def _fetch(self, account_id: str, model: ModelContract, item: ReferenceItem, where: str) -> None:
        if not model.url_input_supported:
            raise invalid(
                f"{where}.url",
                "is not a file of this gateway; this model accepts only files "
                "uploaded through POST /api/v1/files",
                "the url returned by POST /api/v1/files",
            )
        if item.duration_token is not None:
            raise invalid(f"{where}.durationToken", "only vouches for a file uploaded through the Files API")
        limit = size_limit(item.kind, model)
        policy = dataclasses.replace(self.fetch_policy, max_bytes=min(limit, self.fetch_policy.max_bytes))
        fetched = await fetch_guarded(
            item.url, policy=policy, resolver=self.dns, field=f"{where}.url", transport=self.transport
        )
        if kind_of(fetched.mime_type) != item.kind:
            raise invalid(
                f"{where}.url",
                f"content is {fetched.mime_type}, not {KIND_NAMES[item.kind]}",
                allowed_mime_types(item.kind, model),
            )
        self._check_policy(model, item.kind, fetched.mime_type, len(fetched.body), f"{where}.url")
        chunks = _once(fetched.body)
        async with self.files.stage(chunks, kind=item.kind, model=model) as staged:
            info = await self.files.probe(staged.path, expected_kind=item.kind, field=f"{where}.url")
            file_id = new_id("file")
            await self.files.store_file(
                staged.path,
                info,
                file_id=file_id,
                account_id=account_id,
                api_key_id=None,
                name=clean_name(_url_name(fetched.url), f"{file_id}.{extension_for(info.mime_type)}"),
                origin="url",
                source_url=item.url,
                model=model.id,
                client_request_id=None,
                max_bytes=staged.size_bytes,
            )

    async def _bytes(self, record: FileRecord) -> bytes:
        cached = self._cache.get(record.storage_key)
        if cached is not None:
            self._cache.move_to_end(record.storage_key)
            return cached
        data = await self.files.read_bytes(record)
        # The worker resolves references on every step of a task; a small cache spares re-reading them.
        if len(data) <= self._cache_bytes:
            self._cache[record.storage_key] = data
            while sum(len(v) for v in self._cache.values()) > self._cache_bytes:
                self._cache.popitem(last=False)
        return data


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


def _url_name(url: str) -> str:
    return urllib.parse.unquote(urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1])
