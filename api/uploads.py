"""Reading an upload: bounded before it is read, in chunks, from a multipart form or a raw body.

A request that announces more than the limit is refused with 413 before a byte is read, and one
that streams more is refused as soon as it passes the limit, so an oversize upload never fills
memory or disk.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from email.message import Message

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from api.keys import LIMIT
from api.problems import Malformed, TooLarge
from hub.documents import MAX_DOCUMENT_SIZE
from hub.errors import InvalidInput, refuse_control_characters

CHUNK = 64 * 1024
# Room for a multipart body's boundaries and part headers around the file itself.
MULTIPART_OVERHEAD = 64 * 1024
MAX_FIELD = 4096
# What aiohttp's multipart reader raises on a body that is not what its headers say: no or a bad
# boundary, a body cut short, broken part headers, an unknown charset or transfer encoding.
# Caught only around the reading, never around the hub's use-case.
_MALFORMED = (ValueError, LookupError, RuntimeError, AssertionError, HttpProcessingError)


def _limit(request: web.Request) -> int:
    return request.config_dict.get(LIMIT, MAX_DOCUMENT_SIZE)


async def _bounded(chunks: AsyncIterator[bytes], limit: int) -> bytes:
    """Read ``chunks`` into memory, giving up as soon as they pass ``limit``."""
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise TooLarge
        parts.append(chunk)
    return b"".join(parts)


async def _part_chunks(part: BodyPartReader) -> AsyncIterator[bytes]:
    while chunk := await part.read_chunk(CHUNK):
        yield chunk


async def _text_field(part: BodyPartReader) -> str:
    data = await _bounded(_part_chunks(part), MAX_FIELD)
    return data.decode(part.get_charset("utf-8"), errors="replace")


def _disposition_filename(header: str) -> str:
    if not header:
        return ""
    message = Message()
    message["Content-Disposition"] = header
    return message.get_filename() or ""


def _checked(field: str, value: str) -> str:
    """``value`` as text the database can hold: no control character, and real UTF-8 (header
    bytes that are not come through as lone surrogates)."""
    refuse_control_characters(field, value)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise Malformed(f"{field} is not UTF-8") from None
    return value


async def read_upload(request: web.Request) -> tuple[str, str, bytes]:
    """(folder path, file name, bytes) from a multipart form or a raw body."""
    limit = _limit(request)
    multipart = request.content_type == "multipart/form-data"
    overhead = MULTIPART_OVERHEAD if multipart else 0
    if request.content_length is not None and request.content_length > limit + overhead:
        raise TooLarge
    folder = request.query.get("folder", "")
    if multipart:
        try:
            return await _read_multipart(request, folder, limit)
        except _MALFORMED as error:
            raise Malformed(f"{type(error).__name__}: {error}") from None
    try:
        filename = request.query.get("filename") or _disposition_filename(
            request.headers.get("Content-Disposition", "")
        )
    except _MALFORMED as error:
        raise Malformed(f"Content-Disposition: {error}") from None
    if not filename:
        raise InvalidInput("no file name", field="filename", key="api.no_filename")
    data = await _bounded(request.content.iter_chunked(CHUNK), limit)
    return _checked("folder", folder), _checked("filename", filename), data


async def _read_multipart(request: web.Request, folder: str, limit: int) -> tuple[str, str, bytes]:
    filename, data, seen = "", b"", False
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            raise Malformed("nested multipart")
        name = _checked("part name", part.name or "")
        if name == "folder":
            folder = await _text_field(part)
        elif name == "file":
            if seen:
                raise InvalidInput("one file per request", field="file", key="api.one_file")
            seen = True
            filename = _checked("filename", part.filename or "")
            data = await _bounded(_part_chunks(part), limit)
        else:
            await part.release()
    if not seen:
        raise InvalidInput("no file part", field="file", key="api.no_file")
    return _checked("folder", folder), filename, data
