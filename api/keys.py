"""API keys: created once, shown once, stored as a SHA-256 of their secret.

A key reads ``agk_<id>_<secret>``: the id (8 hex characters) finds the row,
the secret (32 random bytes, URL-safe base64) is compared by hash in constant
time. A high-entropy random secret needs no slow password hash.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

import sqlalchemy as sa

from archgen.db import api_keys, get_engine
from archgen.errors import ArchgenError, UnknownNameError

PREFIX = "agk_"


class KeyNameError(ArchgenError, ValueError):
    """A key name that is empty or too long."""


@dataclass(frozen=True)
class ApiKey:
    """A key's public record (never its secret)."""

    id: str
    name: str
    created_at: float
    revoked_at: float | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class KeyStore:
    """The API-key table.

    Args:
        url: Database URL (see :func:`archgen.db.get_engine`).
    """

    def __init__(self, url: str) -> None:
        self.engine = get_engine(url)

    def create(self, name: str) -> tuple[ApiKey, str]:
        """A new key named ``name``; returns its record and the full key (shown once, never stored)."""
        name = name.strip()
        if not 0 < len(name) <= 128:
            raise KeyNameError("a key name must have 1 to 128 characters")
        key_id, secret = secrets.token_hex(4), secrets.token_urlsafe(32)
        created = time.time()
        row = {"id": key_id, "name": name, "secret_sha256": _digest(secret), "created_at": created}
        with self.engine.begin() as c:
            c.execute(api_keys.insert().values(**row))
        return ApiKey(key_id, name, created, None), f"{PREFIX}{key_id}_{secret}"

    def list(self) -> list[ApiKey]:
        """Every key, oldest first."""
        with self.engine.connect() as c:
            rows = c.execute(sa.select(api_keys).order_by(api_keys.c.created_at)).all()
        return [ApiKey(r.id, r.name, r.created_at, r.revoked_at) for r in rows]

    def revoke(self, key: str) -> ApiKey:
        """Revoke the key with id (or name) ``key``.

        Raises:
            UnknownNameError: no key has that id or name (lists the active ones).
        """
        keys = self.list()
        match = [k for k in keys if k.id == key] or [k for k in keys if k.name == key and k.active]
        if len(match) != 1:
            valid = [f"{k.id} ({k.name})" for k in keys if k.active]
            if len(match) > 1:
                raise UnknownNameError("API key (several have this name; give the id)", key, valid)
            raise UnknownNameError("API key", key, valid)
        with self.engine.begin() as c:
            c.execute(
                api_keys.update()
                .where(api_keys.c.id == match[0].id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=time.time())
            )
        return next(k for k in self.list() if k.id == match[0].id)

    def count_active(self) -> int:
        """Keys not revoked."""
        with self.engine.connect() as c:
            return int(c.execute(sa.select(sa.func.count()).where(api_keys.c.revoked_at.is_(None))).scalar_one())

    def verify(self, token: str) -> ApiKey | None:
        """The active key ``token`` is, or ``None``."""
        if not token.startswith(PREFIX) or token.count("_") < 2:
            return None
        key_id, secret = token[len(PREFIX) :].split("_", 1)
        with self.engine.connect() as c:
            r = c.execute(sa.select(api_keys).where(api_keys.c.id == key_id)).first()
        if r is None or r.revoked_at is not None or not hmac.compare_digest(r.secret_sha256, _digest(secret)):
            return None
        return ApiKey(r.id, r.name, r.created_at, r.revoked_at)
