"""Source-IP allowlists: `<NAME>_ALLOWED_IPS` keeps /webhooks/<platform> or /events/<source> to the networks that
send to it (comma-separated addresses or CIDRs; unset: any address), refused with 403 before anything is read.

The address is request.remote_addr: app.py's ProxyFix sets it from the X-Forwarded-For of TRUSTED_PROXIES hops only,
so a header the client writes itself is never believed.
"""

from __future__ import annotations

from functools import partial
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from typing import Mapping

from flask import Flask, request

from bot.config import Config, ConfigError
from bot.errors import Rejected

SUFFIX = "_ALLOWED_IPS"
ROUTE_NAMES = ("platform", "source")  # the URL variable that names who posts: a chat platform, a business event source

Network = IPv4Network | IPv6Network


def allow_sources(app: Flask, config: Config) -> None:
    """Check each request's address against its route's allowlist, first of all; a malformed one is a ConfigError."""
    allowed = allowlists(config.env)
    if allowed:
        app.before_request(partial(_guard, allowed))


def allowlists(env: Mapping[str, str]) -> dict[str, list[Network]]:
    """Every non-empty `<NAME>_ALLOWED_IPS`, by its lower-case name."""
    found = {name: value for name, value in env.items() if name.endswith(SUFFIX) and value.strip(", ")}
    return {name.removesuffix(SUFFIX).lower(): _networks(name, value) for name, value in found.items()}


def _networks(setting: str, value: str) -> list[Network]:
    try:
        return [ip_network(entry.strip()) for entry in value.split(",") if entry.strip()]
    except ValueError as error:
        raise ConfigError(f"{setting}: {error}. Give comma-separated addresses or networks in CIDR notation, with no "
                          "host bits past the prefix (203.0.113.0/24, 2001:db8::/32, 198.51.100.7), or unset it to allow "
                          "any.") from None


def _guard(allowed: dict[str, list[Network]]) -> None:
    args = request.view_args or {}
    name = next((str(args[key]).lower() for key in ROUTE_NAMES if key in args), None)
    networks = allowed.get(name) if name else None
    if networks and not within(request.remote_addr, networks):
        raise Rejected(f"{request.remote_addr} is not in {name.upper()}{SUFFIX}", 403)


def within(address: str | None, networks: list[Network]) -> bool:
    """Whether `address` is in one of `networks`; an IPv4 address seen as IPv6 (::ffff:a.b.c.d) counts as itself."""
    try:
        parsed: IPv4Address | IPv6Address = ip_address(address or "")
    except ValueError:
        return False
    if isinstance(parsed, IPv6Address) and parsed.ipv4_mapped:
        parsed = parsed.ipv4_mapped
    return any(parsed in network for network in networks)
