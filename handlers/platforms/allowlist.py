"""The callback allowlist of generic webhooks: which hosts and ports replies may be POSTed to (docs/platforms.md section 9).

The tools' allowlist (TOOLS_ALLOWLIST) is the same rule under another setting's name."""

from __future__ import annotations

from ipaddress import ip_address
from typing import Callable

from urllib3.exceptions import LocationParseError
from urllib3.util import Url, parse_url

from bot.config import ConfigError

DEFAULT_PORTS = {"http": 80, "https": 443}  # the port a URL or an allowlist entry without one means


class Allowlist:
    """The hosts and ports replies may be POSTed to, so that no caller can aim the bot at an internal address."""

    def __init__(self, entries: str, configured_url: str = "", setting: str = "GENERIC_CALLBACK_ALLOWLIST",
                 what: str = "callback") -> None:
        self.setting, self.what = setting, what  # the setting's name and what it guards, as refusals word them
        self.entries = [_entry(entry, setting) for entry in entries.split(",") if entry.strip()]
        configured = _parse(configured_url)
        if configured and configured.host:  # the operator chose this one
            self.entries.append((_normal(configured.host), configured.port))

    def refusal(self, url: str) -> str | None:
        """Why a reply may not be POSTed to `url`, or None when it may."""
        parts = _parse(url)
        if parts is None or parts.scheme not in DEFAULT_PORTS or not parts.host:
            return f"the {self.what} URL must be an absolute http(s) URL"
        if parts.auth is not None:
            return f"the {self.what} URL must not carry a user name or password"
        where = (parts.netloc or "").lower()
        if not (self.exactly(parts) or self.by_wildcard(parts)):
            return f"{self.what} host {where} is not in {self.setting}"
        if parts.scheme == "http" and not self.exactly(parts):
            return f"{self.what} host {where} needs https: http is only for hosts listed exactly in {self.setting}"
        return None

    def exactly(self, url: Url) -> bool:
        """Listed as it is: the operator's own choice, whatever address it has."""
        return self._listed(url, lambda host, entry: host == entry)

    def by_wildcard(self, url: Url) -> bool:
        """A subdomain of a `*.` entry; IP addresses never are."""
        # Top-level domains start with a letter; no spelling of an IP address (127.1, 0x7f.1) does.
        named = _normal(url.host or "").rsplit(".", 1)[-1][:1].isalpha()
        return named and self._listed(url, lambda host, entry: entry.startswith("*.") and host.endswith(entry[1:]))

    def peer_refusal(self, url: Url, address: str) -> str | None:
        """Why the bot may not talk to `address`, which `url`'s host resolved to as it connected: a host only a wildcard
        allows must be public (else a DNS answer could aim the bot anywhere: rebinding), one listed exactly may be internal."""
        if self.exactly(url) or ip_address(address).is_global:
            return None
        return (f"{self.what} host {url.host} resolved to {address}, an internal address: only hosts listed exactly in "
                f"{self.setting} may be internal")

    def _listed(self, url: Url, matches: Callable[[str, str], bool]) -> bool:
        """An entry matches the URL's host and names its port, or names none and the port is the scheme's default."""
        default = DEFAULT_PORTS[url.scheme or ""]
        host, port = _normal(url.host or ""), url.port or default
        return any(matches(host, entry) and port == (entry_port or default) for entry, entry_port in self.entries)


def _entry(text: str, setting: str) -> tuple[str, int | None]:
    """An allowlist entry as its host and port (None: the scheme's default); a ConfigError if it is neither."""
    text = text.strip()
    if text.count(":") > 1 and "[" not in text:  # an IPv6 address without brackets, which cannot carry a port
        return _normal(text), None
    parts = _parse(f"//{text}")
    if parts is None or not parts.host or any((parts.auth, parts.path, parts.query, parts.fragment)):
        raise ConfigError(f"{setting}: {text!r} is not a host, host:port, *.domain[:port] or [IPv6]:port")
    return _normal(parts.host), parts.port


def _parse(url: str) -> Url | None:
    """The URL as requests (through urllib3) will read it when it connects; None if it cannot."""
    try:
        return parse_url(url)
    except LocationParseError:
        return None


def _normal(host: str) -> str:
    """A host as the allowlist compares it: lower case, IPv6 without brackets."""
    return host.strip().lower().strip("[]")
