"""The error responses each route documents in the OpenAPI schema."""

from __future__ import annotations

from .models import ErrorBody, ValidationErrorBody


def errors(*codes: int) -> dict:
    described = {
        400: "Malformed request.", 401: "No API key, or one that is unknown, malformed or revoked.",
        403: "The API key lacks the scope, or the path is outside the allowed folders.", 404: "Not found.",
        409: "Not in a state that allows this.", 413: "Body over the size limit.", 415: "Not a media type this service reads.",
        422: "Request or media that cannot be processed.", 429: "Rate limit or queue full; see Retry-After.",
    }
    out: dict = {}
    for code in codes:
        out[code] = {"model": ValidationErrorBody if code == 422 else ErrorBody, "description": described[code]}
        if code == 429:
            out[code]["headers"] = {"Retry-After": {"description": "Seconds to wait before trying again.",
                                                    "schema": {"type": "integer"}}}
    return out


AUTH = (401, 403, 429)
