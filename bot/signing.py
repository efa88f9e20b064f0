"""Signing with HMACs, as Standard Webhooks does: used for the webhooks we take in and those we send."""

from __future__ import annotations

import base64
import hashlib
import hmac


def digest(key: bytes, message: bytes, algorithm: str = "sha256") -> bytes:
    """The raw HMAC of `message`."""
    return hmac.new(key, message, getattr(hashlib, algorithm)).digest()


def standard_key(secret: str) -> bytes:
    """The HMAC key of a Standard Webhooks secret: the base64 after `whsec_`, padding optional."""
    encoded = secret.removeprefix("whsec_")
    return base64.b64decode(encoded + "=" * (-len(encoded) % 4))


def standard_sign(key: bytes, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value for a Standard Webhooks message."""
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(digest(key, signed)).decode()
