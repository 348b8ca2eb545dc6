"""Bearer API keys and per-key rate limits."""

from __future__ import annotations

import math
import threading
import time

from archgen.api.errors import ApiError
from archgen.api.keys import ApiKey, KeyStore

#: Seconds a verified key is trusted before the database is asked again (so a revocation takes effect within it).
KEY_CACHE_S = 2.0


class TokenBucket:
    """Per-key token buckets: ``rate`` requests per second sustained, ``burst`` at once."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self._state: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """Take one token; returns 0 if allowed, else the seconds until one is available."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._state.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._state[key] = (tokens - 1.0, now)
                return 0.0
            self._state[key] = (tokens, now)
            return (1.0 - tokens) / self.rate


class Authenticator:
    """Checks ``Authorization: Bearer KEY`` and the key's rate limit.

    Args:
        keys: The key table.
        limiter: Per-key rate limiter.
    """

    def __init__(self, keys: KeyStore, limiter: TokenBucket) -> None:
        self.keys = keys
        self.limiter = limiter
        self._cache: dict[str, tuple[ApiKey, float]] = {}
        self._lock = threading.Lock()

    def _verify(self, token: str) -> ApiKey | None:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(token)
        if hit is not None and now - hit[1] < KEY_CACHE_S:
            return hit[0]
        key = self.keys.verify(token)
        with self._lock:
            if key is None:
                self._cache.pop(token, None)
            else:
                if len(self._cache) > 10_000:
                    self._cache.clear()
                self._cache[token] = (key, now)
        return key

    def authenticate(self, authorization: str | None) -> ApiKey:
        """The key of a request, or an :class:`ApiError` (401 without a valid key, 429 over its limit)."""
        challenge = {"WWW-Authenticate": "Bearer"}
        if not authorization:
            raise ApiError(401, "unauthorized", "missing API key: send 'Authorization: Bearer KEY'", challenge)
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "unauthorized", "malformed Authorization header: expected 'Bearer KEY'", challenge)
        key = self._verify(token.strip())
        if key is None:
            raise ApiError(401, "unauthorized", "invalid or revoked API key", challenge)
        wait = self.limiter.take(key.id)
        if wait > 0:
            limit = f"{self.limiter.rate:g} requests/s (burst {self.limiter.burst})"
            raise ApiError(
                429,
                "rate_limited",
                f"rate limit of key {key.name!r} exceeded: {limit}; retry in {wait:.2f} s",
                {"Retry-After": str(max(1, math.ceil(wait)))},
            )
        return key
