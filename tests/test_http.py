"""The platforms' HTTP client: the environment's proxy and CA bundle are honoured, read once where they can be."""

from __future__ import annotations

import urllib.request

from handlers.platforms.http import PlatformAPI
from tests.fakes import FakeTelegram


def test_a_proxy_in_the_environment_is_honoured_on_every_call(telegram: FakeTelegram):
    api = PlatformAPI("telegram", 5)  # the tests' environment: a dead proxy, loopback excepted by NO_PROXY
    assert api.session.trust_env
    assert api.post(f"{telegram.url}/botTOKEN/getMe", json={}).status_code == 200


def test_without_a_proxy_the_environment_is_read_once(monkeypatch, telegram: FakeTelegram):
    for name in urllib.request.getproxies_environment():
        monkeypatch.delenv(f"{name}_proxy", raising=False)
        monkeypatch.delenv(f"{name.upper()}_PROXY", raising=False)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    api = PlatformAPI("telegram", 5)
    assert not api.session.trust_env
    assert api.session.verify == "/etc/ssl/certs/ca-certificates.crt"
    assert api.post(f"{telegram.url}/botTOKEN/getMe", json={}).status_code == 200
