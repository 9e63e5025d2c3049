"""Who is calling, what they may do, and how often.

Every /v1 route depends on ``require(scope)``: no key or a wrong key is 401,
a key without the scope is 403, a key over its rate is 429 with Retry-After.
The key itself goes no further than the hash lookup: logs and errors name
the key's id only.
"""

from __future__ import annotations

import math
import time

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from .errors import ApiError
from .keys import ApiKey, KeyStore

API_KEY_HEADER = "X-API-Key"
api_key_header = APIKeyHeader(name=API_KEY_HEADER, auto_error=False, description="An API key from `skyseal keys create`.")
bearer = HTTPBearer(auto_error=False, description="The same API key, as `Authorization: Bearer <key>`.")


class RateLimits:
    """A moving one-minute window per key; each key's own rate, else the service default."""

    def __init__(self, default_per_minute: int) -> None:
        self.default = default_per_minute
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def check(self, key: ApiKey) -> None:
        item = RateLimitItemPerMinute(key.rate_per_minute or self.default)
        if not self._limiter.hit(item, key.id):
            stats = self._limiter.get_window_stats(item, key.id)
            wait = max(1, math.ceil(stats.reset_time - time.time()))
            raise ApiError(429, f"rate limit of {item.amount} requests per minute reached for this key",
                           code="rate_limited", headers={"Retry-After": str(wait)})


def require(scope: str):
    """A dependency that admits keys holding ``scope`` (admin holds every scope)."""

    def dependency(
        request: Request,
        header_key: str | None = Depends(api_key_header),
        bearer_key: HTTPAuthorizationCredentials | None = Depends(bearer),
    ) -> ApiKey:
        presented = header_key or (bearer_key.credentials if bearer_key else None)
        if not presented:
            raise ApiError(401, f"an API key is required (header {API_KEY_HEADER} or Authorization: Bearer)",
                           headers={"WWW-Authenticate": "Bearer"})
        keys: KeyStore = request.app.state.ctx.keys
        key = keys.authenticate(presented)
        if key is None:
            raise ApiError(401, "the API key is not valid (unknown, malformed or revoked)", headers={"WWW-Authenticate": "Bearer"})
        request.state.key_id = key.id
        if not key.allows(scope):
            raise ApiError(403, f"this API key lacks the '{scope}' scope")
        request.app.state.ctx.rate_limits.check(key)
        return key

    dependency.__name__ = f"require_{scope}"
    return dependency
