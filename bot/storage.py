"""The Redis connection."""

from __future__ import annotations

from redis import Redis


def connect(url: str, max_connections: int = 100) -> Redis:
    """Connect to REDIS_URL; `rediss://` accepts Heroku Redis's self-signed certificate. At most `max_connections`
    at once: past them, a command raises MaxConnectionsError (redis-py's own default is 100)."""
    options: dict = {"socket_connect_timeout": 3, "socket_timeout": 10, "health_check_interval": 30,
                     "max_connections": max_connections}
    if url.startswith("rediss://"):
        options["ssl_cert_reqs"] = None
    return Redis.from_url(url, **options)
