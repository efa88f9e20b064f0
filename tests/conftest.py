"""Fixtures: a real redis-server, a real RQ worker, and local fakes of the LLM and Telegram.

Nothing here may reach the internet (tests/loopback.py): in-process sockets are limited to loopback, and
subprocesses get a proxy that refuses every connection not bound for loopback.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest
import redis as redis_lib

from bot.ops import metrics
from handlers.platforms.registry import ADAPTERS
from tests import loopback
from tests.fakes import Canned, FakeOpenAI, FakeTelegram
from tests.helpers import ROOT, TELEGRAM_SECRET, TELEGRAM_TOKEN, Bot
from tests.processes import RedisServer, stop_group
from tests.vendors import ToolEndpoint

loopback.install()
PLATFORM_PREFIXES = tuple(f"{adapter.prefix}_" for adapter in ADAPTERS.values())
for name in list(os.environ):  # the tests' settings must not be mixed with the developer's own
    if name.startswith(("OPENAI_", "REDIS_URL", "PUBLIC_BASE_URL", *PLATFORM_PREFIXES)):
        del os.environ[name]


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    yield server.url
    server.stop()


@pytest.fixture
def redis(redis_url: str) -> redis_lib.Redis:
    client = redis_lib.Redis.from_url(redis_url)
    metrics.flush_all()  # the previous test's counts, before they could land in this one's Redis
    client.flushall()
    return client


@pytest.fixture
def llm() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI().start()
    yield server
    server.gate.set()
    server.midway.set()
    server.stop()


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    """The Telegram fake; the test fails if any part it was sent would not parse or was too long."""
    server = FakeTelegram().start()
    yield server
    server.stop()
    server.check()


@pytest.fixture
def settings(redis: redis_lib.Redis, redis_url: str, llm: FakeOpenAI, telegram: FakeTelegram) -> dict[str, str]:
    """The environment of a bot wired to the fakes; tests change entries before building the app."""
    return {
        "REDIS_URL": redis_url,
        "OPENAI_API_KEY": "sk-test",
        "OPENAI_BASE_URL": f"{llm.url}/v1",
        "OPENAI_MODEL": "test-model",
        "OPENAI_TIMEOUT": "5",
        "OPENAI_MAX_RETRIES": "2",
        "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
        "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
        "TELEGRAM_API_URL": telegram.url,
        "TELEGRAM_BOT_USERNAME": "ada_test_bot",
        "WEBCHAT_ENABLED": "1",
        "PROMPTS_DIR": str(ROOT / "prompts"),
        "BURST_WINDOW": "0",  # answer at once: the burst tests set their own window
        "WORKER_CONCURRENCY": "1",  # turns in a predictable order, for canned answers; test_slots runs many at once
    }


@pytest.fixture
def shop():
    """An order service behind a webhook tool, answering that every order asked about has shipped."""
    endpoint = ToolEndpoint().start()
    endpoint.answer = lambda data: Canned(body={"order": data["arguments"]["order"], "status": "shipped"})
    yield endpoint
    endpoint.gate.set()  # a call a test held is let go, so the endpoint can stop
    endpoint.stop()


@pytest.fixture
def bot(settings: dict[str, str]) -> Bot:
    """A bot wired to the fakes; a test module that needs other settings overrides this fixture."""
    return Bot(settings)


@pytest.fixture
def app(bot: Bot):
    return bot.app


@pytest.fixture
def client(bot: Bot):
    return bot.client


@pytest.fixture
def run_worker(bot: Bot):
    """Run a real RQ worker in burst mode: it answers everything queued, then returns."""
    return bot.run


@pytest.fixture
def start_workers(settings: dict[str, str], tmp_path: Path) -> Iterator:
    """Start worker processes exactly as the Procfile does, each in its own process group (so a test can
    kill one with its RQ scheduler); their logs are in the test's tmp_path; all are stopped after the test,
    and a failed test shows their logs, with the stack of every thread still running."""
    processes: list[subprocess.Popen] = []

    def start(count: int = 1) -> list[subprocess.Popen]:
        env = {**os.environ, **settings, "PYTHONFAULTHANDLER": "1"}
        new = []
        for _ in range(count):
            with open(tmp_path / f"worker-{len(processes)}.log", "wb") as log:  # the worker keeps its own handle
                new.append(subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "worker"], cwd=ROOT, env=env,
                                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
            processes.append(new[-1])
        return new

    yield start
    for process in processes:
        stop_group(process, signal.SIGABRT)  # faulthandler writes every thread's stack to the log first
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            stop_group(process, signal.SIGKILL)
    for log in sorted(tmp_path.glob("worker-*.log")):  # printed: pytest shows it for a failed test only
        print(f"--- {log.name}\n{log.read_text(errors='replace')[-20_000:]}")
