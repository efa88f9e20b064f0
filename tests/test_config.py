"""Configuration: read once from the environment, with errors that say what to fix."""

from __future__ import annotations

import pytest

from bot.config import Config, ConfigError


def test_defaults_and_types():
    config = Config.from_env({"OPENAI_TIMEOUT": "12.5", "WEBCHAT_ENABLED": "1", "LEASE_SECONDS": "30"})
    assert (config.openai_timeout, config.webchat_enabled, config.lease_seconds) == (12.5, True, 30)
    assert config.offline and config.redis_url == "redis://localhost:6379/0"


def test_a_server_without_a_key_is_a_real_llm_not_the_offline_stand_in():
    assert not Config.from_env({"OPENAI_BASE_URL": "http://localhost:11434/v1"}).offline  # Ollama, llama.cpp, vLLM
    assert not Config.from_env({"OPENAI_API_KEY": "sk-x"}).offline and Config.from_env({}).offline


def test_a_malformed_number_names_the_variable():
    with pytest.raises(ConfigError, match="OPENAI_MAX_RETRIES must be a non-negative int, got 'many'"):
        Config.from_env({"OPENAI_MAX_RETRIES": "many"})


def test_the_job_timeout_covers_every_retry():
    config = Config.from_env({"OPENAI_TIMEOUT": "30", "OPENAI_MAX_RETRIES": "3"})
    assert config.turn_timeout > 2 * config.turn_deadline  # a job starts no turn past one deadline; its last ends in another


def test_platform_settings_are_read_from_the_same_environment():
    assert Config.from_env({"TELEGRAM_BOT_TOKEN": " 1:abc "}).setting("TELEGRAM_BOT_TOKEN") == "1:abc"


def test_rediss_urls_accept_heroku_self_signed_certificates():
    from bot.storage import connect

    options = connect("rediss://:pw@example.com:6380").connection_pool.connection_kwargs
    assert options["ssl_cert_reqs"] is None


def test_the_heroku_manifest_provisions_redis_web_and_worker():
    import json

    from tests.helpers import ROOT

    manifest = json.loads((ROOT / "app.json").read_text())
    assert manifest["addons"][0]["plan"].startswith("heroku-redis")
    assert set(manifest["formation"]) == {"web", "worker"}
    procfile = (ROOT / "Procfile").read_text()
    assert all(f"{name}:" in procfile for name in ("web", "worker", "release"))
    assert manifest["env"]["TELEGRAM_WEBHOOK_SECRET"]["generator"] == "secret"


def test_the_default_model_is_a_current_small_one_everywhere():
    import json

    from tests.helpers import ROOT

    manifest = json.loads((ROOT / "app.json").read_text())
    assert Config().openai_model == manifest["env"]["OPENAI_MODEL"]["value"] == "gpt-5.4-mini"
    assert "| `OPENAI_MODEL` | `gpt-5.4-mini` |" in (ROOT / "docs" / "configuration.md").read_text()
