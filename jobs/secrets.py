"""Encryption at rest for remotes' secret options (Fernet, keys from
settings.REMOTE_SECRETS_KEYS; the first encrypts, all decrypt)."""

from __future__ import annotations

import json
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(k.encode()) for k in keys])


def _current() -> MultiFernet:
    return _fernet(tuple(settings.REMOTE_SECRETS_KEYS))


def encrypt_options(values: dict[str, str]) -> str:
    if not values:
        return ""
    return _current().encrypt(json.dumps(values, sort_keys=True).encode()).decode()


def decrypt_options(token: str) -> dict[str, str]:
    if not token:
        return {}
    try:
        return json.loads(_current().decrypt(token.encode()))
    except InvalidToken as exc:
        raise RuntimeError("A remote's secret options cannot be decrypted: check REMOTE_SECRETS_KEY") from exc
