"""Password hashing (argon2id) and JSON Web Tokens (HS256, pinned).

Every token carries ``sub`` (user id), ``role``, ``typ`` ("access" or "refresh"),
``iss``, ``aud``, ``iat``, ``exp``, ``jti`` and ``tv`` (the account's token version).
Decoding checks the algorithm, signature, expiry, issuer, audience and type. The role
inside a token is a hint for the client only, because the API rereads the user on
every request.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from triage_core.errors import Unauthorized
from triage_core.settings import ConfigurationError, get_settings

logger = logging.getLogger(__name__)

ALGORITHM = "HS256"
MIN_SECRET_BYTES = 32

_hasher = PasswordHasher()
# A real hash of a random password, verified when the email is unknown so that a
# login for a missing account costs the same time as one for an existing account.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))

TokenType = Literal["access", "refresh"]


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Check a password against its argon2 hash.

    A missing hash still costs one verification, so response times do not reveal
    whether an account exists.
    """
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(
            password_hash
        )
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


@lru_cache(maxsize=1)
def signing_key() -> str:
    """Return the HS256 key from Secrets Manager (cloud) or ``JWT_SECRET`` (local)."""
    settings = get_settings()
    if settings.jwt_secret_arn:
        from aws_lambda_powertools.utilities import parameters

        key = str(parameters.get_secret(settings.jwt_secret_arn))
    else:
        key = settings.jwt_secret
    if len(key.encode()) < MIN_SECRET_BYTES:
        raise ConfigurationError(
            "JWT_SECRET is missing or shorter than 32 bytes; set JWT_SECRET to a "
            "random value (python -c 'import secrets; "
            "print(secrets.token_urlsafe(48))') or JWT_SECRET_ARN to a Secrets "
            "Manager secret"
        )
    return key


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    refresh_token: str
    expires_in: int


def _encode(
    user_id: str, role: str, typ: TokenType, ttl: int, token_version: int = 0
) -> str:
    settings = get_settings()
    now = int(time.time())
    claims = {
        "sub": user_id,
        "role": role,
        "typ": typ,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "exp": now + ttl,
        "jti": secrets.token_hex(16),
        "tv": token_version,
    }
    return jwt.encode(claims, signing_key(), algorithm=ALGORITHM)


def issue_tokens(user_id: str, role: str, token_version: int = 0) -> IssuedTokens:
    """Sign an access and a refresh token; ``token_version`` is the account's."""
    settings = get_settings()
    return IssuedTokens(
        access_token=_encode(
            user_id, role, "access", settings.access_token_ttl_seconds, token_version
        ),
        refresh_token=_encode(
            user_id,
            role,
            "refresh",
            settings.refresh_token_ttl_seconds,
            token_version,
        ),
        expires_in=settings.access_token_ttl_seconds,
    )


def decode_token(token: str, expected_type: TokenType = "access") -> dict[str, Any]:
    """Return the verified claims or raise ``Unauthorized`` with a generic message.

    The reason is logged (never the token) so operators can tell an expired token from
    a forged one.
    """
    settings = get_settings()
    try:
        claims = jwt.decode(
            token,
            signing_key(),
            algorithms=[ALGORITHM],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={"require": ["exp", "iat", "iss", "aud", "sub", "typ", "role"]},
        )
    except jwt.ExpiredSignatureError:
        logger.info("token rejected: expired")
        raise Unauthorized("token expired; log in again") from None
    except jwt.InvalidTokenError as exc:
        logger.info("token rejected: %s", type(exc).__name__)
        raise Unauthorized("invalid token") from None
    if claims.get("typ") != expected_type:
        logger.info("token rejected: wrong type")
        raise Unauthorized("invalid token") from None
    return claims


def decode_access_token(token: str) -> dict[str, Any]:
    return decode_token(token, "access")


def bearer_token(headers: dict[str, str] | None) -> str:
    """Extract the token of an ``Authorization: Bearer`` header (case-insensitive)."""
    for name, value in (headers or {}).items():
        if name.lower() == "authorization":
            scheme, _, token = value.partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
            break
    raise Unauthorized("missing bearer token in the Authorization header")
