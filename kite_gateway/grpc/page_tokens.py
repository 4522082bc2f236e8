"""Opaque page tokens for paged searches: where the next page starts, bound to the request's
filters and to the data it was computed on, so a token is never applied to a different search."""

from __future__ import annotations

import base64
import hashlib
import json

from google.protobuf.message import Message

from kite_gateway.errors import invalid


def fingerprint(request: Message, *paging_fields: str) -> str:
    """A short digest of the request without its paging fields."""
    copy = type(request)()
    copy.CopyFrom(request)
    for name in paging_fields:
        copy.ClearField(name)
    return hashlib.sha256(copy.SerializeToString(deterministic=True)).hexdigest()[:16]


def encode(offset: int, request_digest: str, generation: str) -> str:
    body = json.dumps({"o": offset, "f": request_digest, "g": generation}, separators=(",", ":"))
    return base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")


def decode(token: str, request_digest: str, generation: str, field: str = "page_token") -> int:
    """The offset a token continues from; 0 for no token. INVALID_ARGUMENT for a token that is not
    one of ours, belongs to other filters, or predates the data it paged."""
    if not token:
        return 0
    try:
        body = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        offset, digest, made_on = int(body["o"]), str(body["f"]), str(body["g"])
        if offset < 0:
            raise ValueError(offset)
    except (ValueError, KeyError, TypeError, OverflowError):
        raise invalid(field, "not a page token from this search: pass next_page_token as it was returned") from None
    if digest != request_digest:
        raise invalid(field, "the query or filters changed since this page token was issued: start again without it")
    if made_on != generation:
        raise invalid(field, "the instrument master was refreshed since this page token was issued: start again")
    return offset
