"""Token encryption at rest: MultiFernet over TOKEN_ENCRYPTION_KEYS, bound to the owner.

Fernet has no associated data, so the owner's id is sealed inside the plaintext: a
ciphertext copied onto another user's row fails to decrypt there. Failure is always an
exception, never the ciphertext handed back (the pitfall of the encrypted-field libraries).
"""

from __future__ import annotations

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class TokenDecryptionError(Exception):
    """The stored token cannot be read with the configured keys, or belongs to someone else."""


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys])


def _current() -> MultiFernet:
    return _fernet(tuple(settings.TOKEN_ENCRYPTION_KEYS))


def encrypt_token(owner_id: int, token: str) -> str:
    return _current().encrypt(f"{owner_id}:{token}".encode()).decode("ascii")


def decrypt_token(owner_id: int, ciphertext: str) -> str:
    try:
        plaintext = _current().decrypt(ciphertext.encode("ascii")).decode()
    except (InvalidToken, UnicodeError) as exc:
        raise TokenDecryptionError("no configured key decrypts this token") from exc
    bound_to, _, token = plaintext.partition(":")
    if bound_to != str(owner_id):
        raise TokenDecryptionError("this token was encrypted for another user")
    return token


def rotate_token(ciphertext: str) -> str:
    """Re-encrypt under the newest key (the first of TOKEN_ENCRYPTION_KEYS)."""
    try:
        return _current().rotate(ciphertext.encode("ascii")).decode("ascii")
    except InvalidToken as exc:
        raise TokenDecryptionError("no configured key decrypts this token") from exc
