"""Media for /v1/detect and /v1/verify: a streamed upload, or a file in an allowed server folder.

An upload is written to a temp file as it arrives, counting bytes: past the
limit the request is refused with 413 at once, and a declared Content-Length
over the limit is refused before a byte of the body is read.  What the file
*is* comes from its bytes, never from its name.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import puremagic
from fastapi import Request
from pydantic import ValidationError
from streaming_form_data import StreamingFormDataParser
from streaming_form_data.targets import FileTarget
from streaming_form_data.validators import MaxSizeValidator
from streaming_form_data.validators import ValidationError as SizeExceeded

from ..config import ServiceSettings
from .errors import ApiError
from .models import ServerPathRequest

# What the detector and the C2PA reader can open; anything else is refused before decoding.
ACCEPTED_TYPES = {"video/mp4", "video/quicktime", "video/x-msvideo", "video/avi", "video/webm", "video/x-matroska",
                  "image/jpeg", "image/png", "image/webp"}
MULTIPART_FIELD = "file"
# Room for the multipart boundary and part headers around a file at the size limit.
MULTIPART_OVERHEAD = 16 * 1024
MAX_JSON_BODY = 64 * 1024  # a 4096-character path, every character \u-escaped


@dataclass(frozen=True)
class Media:
    path: Path  # where the bytes are on this server: never shown to the client
    name: str  # what the client called it
    content_type: str


def sniff(path: Path) -> str:
    """The media type from the file's first bytes, or ApiError 415."""
    with open(path, "rb") as fh:
        head = fh.read(8192)
    if not head:
        raise ApiError(422, "the file is empty", code="empty_file")
    try:
        matches = puremagic.magic_string(head)
    except puremagic.PureError:
        matches = []
    for match in matches:
        mime = (match.mime_type or "").lower()
        if mime in ACCEPTED_TYPES:
            return mime
    seen = next((m.mime_type for m in matches if m.mime_type), None)
    raise ApiError(415, f"not a video or image this service reads (content looks like {seen or 'unknown data'})")


@contextlib.asynccontextmanager
async def media_from_request(request: Request, cfg: ServiceSettings, upload_dir: Path) -> AsyncIterator[Media]:
    """Yield the request's media; a temp upload is removed on the way out, whatever happened."""
    mime = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if mime == "multipart/form-data":
        fd, tmp = tempfile.mkstemp(prefix="upload-", suffix=".bin", dir=upload_dir)
        os.close(fd)
        path = Path(tmp)
        try:
            name = await _receive_multipart(request, cfg.max_upload_bytes, path)
            yield Media(path, name, sniff(path))
        finally:
            path.unlink(missing_ok=True)
    elif mime == "application/json":
        body = await _read_small(request, MAX_JSON_BODY)
        try:
            req = ServerPathRequest.model_validate_json(body)
        except ValidationError as exc:
            first = exc.errors()[0]
            raise ApiError(422, f"{'.'.join(map(str, first['loc'])) or 'body'}: {first['msg']}") from None
        path = resolve_allowed(req.path, cfg.allowed_paths)
        yield Media(path, req.path, sniff(path))
    else:
        raise ApiError(415, "send the file as multipart/form-data (field 'file') or a server path as application/json")


def _declared_length(request: Request) -> int | None:
    raw = request.headers.get("content-length")
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise ApiError(400, "Content-Length is not a number") from None


def _too_large(limit: int) -> ApiError:
    return ApiError(413, f"upload larger than the {limit}-byte limit", headers={"Connection": "close"})


async def _receive_multipart(request: Request, limit: int, dest: Path) -> str:
    body_limit = limit + MULTIPART_OVERHEAD
    declared = _declared_length(request)
    if declared is not None and declared > body_limit:
        raise _too_large(limit)  # refused before reading a byte of the body
    try:
        parser = StreamingFormDataParser(headers={"Content-Type": request.headers["content-type"]})
    except Exception:  # noqa: BLE001 - the library raises plain errors for a missing or odd boundary
        raise ApiError(400, "multipart/form-data needs a boundary") from None
    target = FileTarget(str(dest), validator=MaxSizeValidator(limit))
    parser.register(MULTIPART_FIELD, target)
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > body_limit:
                raise _too_large(limit)
            parser.data_received(chunk)
    except SizeExceeded:
        raise _too_large(limit) from None
    except ApiError:
        raise
    except Exception:  # noqa: BLE001 - ParseFailedException and friends: malformed multipart
        raise ApiError(400, "malformed multipart/form-data body") from None
    finally:
        # The library opens the file when the part starts and closes it when the part ends;
        # a body cut off mid-part would leave it open.
        if target._started and not target._finished:
            with contextlib.suppress(Exception):
                target.finish()
            complete = False
        else:
            complete = True
    if not target._started:
        raise ApiError(422, f"multipart field '{MULTIPART_FIELD}' is missing")
    if not complete:
        raise ApiError(400, "the multipart body ended before the file part did")
    return Path(target.multipart_filename or "upload").name[:255] or "upload"


async def _read_small(request: Request, limit: int) -> bytes:
    declared = _declared_length(request)
    if declared is not None and declared > limit:
        raise ApiError(413, f"JSON body larger than {limit} bytes")
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            raise ApiError(413, f"JSON body larger than {limit} bytes")
    return bytes(data)


def resolve_allowed(raw: str, roots: list[Path]) -> Path:
    """The real file ``raw`` names, if it lies inside an allowed folder (symlinks and '..' resolved first)."""
    if not roots:
        raise ApiError(403, "server-side paths are disabled on this service; upload the file instead")
    if "\x00" in raw:
        raise ApiError(400, "path contains a NUL byte")
    given = Path(raw)
    candidates = [given] if given.is_absolute() else [Path(root) / given for root in roots]
    real_roots = [Path(os.path.realpath(root)) for root in roots]
    for candidate in candidates:
        real = Path(os.path.realpath(candidate))
        if any(real.is_relative_to(root) for root in real_roots):
            if real.is_file():
                return real
            raise ApiError(404, "no such file in the allowed folders")
    raise ApiError(403, "path is outside the folders this service may read")
