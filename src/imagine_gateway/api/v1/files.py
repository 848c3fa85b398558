"""POST /api/v1/files (multipart upload, streamed) and GET /api/v1/files/{file_id}.

The body is parsed as it arrives (python-multipart's push parser), never buffered whole: the
``file`` part flows straight into ``FileService.save`` when ``kind`` (and ``model``, if any) came
before it, which is what SDKs and ``curl -F kind=... -F file=@...`` send. A form that sends the file
first is received into a temp file, cut off at the largest limit for the detected type, and checked
exactly once the other fields have arrived. A field sent after a file that was already stored is
refused (and the file removed), so a late ``model`` can never skip its limits.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from imagine_gateway.api.deps import CanReadFiles, CanUpload, Ctx
from imagine_gateway.api.request_json import check_text
from imagine_gateway.core.errors import InternalError, UnsupportedMediaType, invalid
from imagine_gateway.services.files import FileRecord, FileService
from imagine_gateway.services.principal import Principal

router = APIRouter(prefix="/api/v1", tags=["files"])

TEXT_FIELDS = ("kind", "model", "client_request_id")
FORM_FIELDS = ("file", *TEXT_FIELDS)
TEXT_FIELD_MAX_BYTES = 1024

UPLOAD_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file", "kind"],
                "properties": {
                    "file": {"type": "string", "format": "binary"},
                    "kind": {"type": "string", "enum": ["image", "video", "audio"]},
                    "model": {"type": "string", "description": "apply this model's limits"},
                    "client_request_id": {"type": "string", "maxLength": 128},
                },
            },
            "encoding": {"file": {"contentType": "image/*, video/*, audio/*"}},
        }
    },
}


@dataclass
class Part:
    """One form part: its field name, file name and the headers that named them."""

    name: str
    filename: str | None


@dataclass
class MultipartStream:
    """Pull-style reading of a multipart body fed through python-multipart's push parser."""

    chunks: AsyncIterator[bytes]
    boundary: bytes
    _events: deque[tuple[str, bytes | Part]] = field(default_factory=deque)
    _ended: bool = False
    _header_name: bytes = b""
    _header_value: bytes = b""
    _headers: dict[str, bytes] = field(default_factory=dict)

    def __post_init__(self) -> None:
        def on_header_field(data: bytes, start: int, end: int) -> None:
            self._header_name += data[start:end]

        def on_header_value(data: bytes, start: int, end: int) -> None:
            self._header_value += data[start:end]

        def on_header_end() -> None:
            self._headers[self._header_name.decode("latin-1").lower()] = self._header_value
            self._header_name, self._header_value = b"", b""

        def on_part_data(data: bytes, start: int, end: int) -> None:
            self._events.append(("data", data[start:end]))

        self._parser = MultipartParser(
            self.boundary,
            {
                "on_part_begin": lambda: self._headers.clear(),
                "on_header_field": on_header_field,
                "on_header_value": on_header_value,
                "on_header_end": on_header_end,
                # Snapshot now: one network chunk may hold several parts, and the callbacks run ahead.
                "on_headers_finished": lambda: self._events.append(("part", self._part())),
                "on_part_data": on_part_data,
                "on_part_end": lambda: self._events.append(("end", b"")),
                "on_end": lambda: self._events.append(("done", b"")),
            },
        )
        self._source = self._feed()

    async def _feed(self) -> AsyncIterator[tuple[str, bytes | Part]]:
        try:
            async for chunk in self.chunks:
                self._parser.write(chunk)
                while self._events:
                    yield self._events.popleft()
            self._parser.finalize()
        except MultipartParseError as exc:
            raise invalid("body", f"is not valid multipart/form-data: {exc}") from exc
        while self._events:
            yield self._events.popleft()

    async def _next(self) -> tuple[str, bytes | Part] | None:
        return await anext(self._source, None)

    async def next_part(self) -> Part | None:
        """The next part's name, skipping any unread data of the current one; None at the end."""
        while (event := await self._next()) is not None:
            kind, payload = event
            if kind == "part":
                assert isinstance(payload, Part)
                return payload
            if kind == "done":
                return None
        raise invalid("body", "multipart body ended before its closing boundary")

    def _part(self) -> Part:
        disposition = self._headers.get("content-disposition", b"")
        _, options = parse_options_header(disposition)
        name = options.get(b"name")
        if name is None:
            raise invalid("body", "a multipart part has no name in its Content-Disposition")
        filename = options.get(b"filename")
        return Part(
            name=name.decode("utf-8", "replace"),
            filename=filename.decode("utf-8", "replace") if filename is not None else None,
        )

    async def data(self) -> AsyncIterator[bytes]:
        """The current part's bytes, as they arrive."""
        while (event := await self._next()) is not None:
            kind, chunk = event
            if kind == "data":
                assert isinstance(chunk, bytes)
                if chunk:
                    yield chunk
            elif kind == "end":
                return
        raise invalid("body", "multipart body ended inside a part")

    async def text(self, name: str) -> str:
        """The current part as a short UTF-8 string."""
        collected = bytearray()
        async for chunk in self.data():
            collected += chunk
            if len(collected) > TEXT_FIELD_MAX_BYTES:
                raise invalid(name, f"is longer than {TEXT_FIELD_MAX_BYTES} bytes")
        try:
            text = collected.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise invalid(name, "is not UTF-8 text") from exc
        check_text(text, name)
        return text


@router.post(
    "/files",
    status_code=201,
    summary="Upload a reference file (image, video or audio)",
    openapi_extra={"requestBody": UPLOAD_BODY},
    responses={201: {"description": "The stored file"}, 413: {"description": "The file is over its limit"}},
)
async def upload_file(request: Request, ctx: Ctx, principal: CanUpload) -> JSONResponse:
    service = _service(ctx.files)
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise UnsupportedMediaType(
            "The body must be multipart/form-data with the fields file, kind and optionally model and "
            f"client_request_id (got {content_type.decode('latin-1') or 'none'!r})."
        )
    form = MultipartStream(request.stream(), boundary)
    record = await _read_form(service, form, principal)
    return JSONResponse(service.file_view(record), status_code=201)


async def _read_form(service: FileService, form: MultipartStream, principal: Principal) -> FileRecord:
    values: dict[str, str] = {}
    while (part := await form.next_part()) is not None:
        if part.name not in FORM_FIELDS:
            raise invalid(part.name[:100], "unknown field", list(FORM_FIELDS))
        if part.name in values:
            raise invalid(part.name, "is given twice")
        if part.name != "file":
            values[part.name] = await form.text(part.name)
        elif "kind" in values:
            record = await service.save(
                principal,
                stream=form.data(),
                filename=part.filename,
                kind=values["kind"],
                model=values.get("model"),
                client_request_id=values.get("client_request_id"),
            )
            try:
                await _expect_end(form)
            except BaseException:
                await service.delete(record)
                raise
            return record
        else:
            # The file came first: receive it (bounded by the detected type), then the other fields.
            async with service.stage(form.data(), kind=None, model=None) as staged:
                while (late := await form.next_part()) is not None:
                    if late.name not in TEXT_FIELDS or late.name in values:
                        issue = "is given twice" if late.name in FORM_FIELDS else "unknown field"
                        raise invalid(late.name[:100], issue, list(FORM_FIELDS))
                    values[late.name] = await form.text(late.name)
                return await service.save_staged(
                    principal,
                    staged,
                    filename=part.filename,
                    kind=values.get("kind"),
                    model=values.get("model"),
                    client_request_id=values.get("client_request_id"),
                )
    service.check_fields(
        kind=values.get("kind"), model=values.get("model"), client_request_id=values.get("client_request_id")
    )
    raise invalid("file", "is required", "an image, video or audio file")


async def _expect_end(form: MultipartStream) -> None:
    """After a file stored as it streamed, nothing may follow: a late field would bypass its checks."""
    late = await form.next_part()
    if late is not None:
        issue = "is given twice" if late.name == "file" else "must be sent before the file part"
        raise invalid(late.name[:100], issue, list(FORM_FIELDS) if late.name not in FORM_FIELDS else None)


@router.get("/files/{file_id}", summary="Retrieve a file's metadata")
async def get_file(file_id: str, ctx: Ctx, principal: CanReadFiles) -> dict[str, Any]:
    service = _service(ctx.files)
    return service.file_view(await service.get(principal, file_id))


def _service(files: FileService | None) -> FileService:
    if files is None:  # pragma: no cover - build_context always sets it
        raise InternalError("The Files API is not configured on this gateway.")
    return files
