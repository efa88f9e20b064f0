"""A fault-injection scenario, shared by the fast test and the soak benchmark.

Many Telegram conversations talk to the real bot (web server, worker processes, Redis with
persistence) through local fakes of the LLM and Telegram that fail on purpose: 429, 500 and
timeouts from the LLM, 502 from Telegram. Deliveries are duplicated, some concurrently; workers
are SIGKILLed mid-turn; Redis may be restarted. Then the promise is checked from the outcome
ledger and from what the Telegram fake delivered: every message exactly one outcome, no reply
part twice, no reply out of order.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import redis as redis_lib
import requests
from werkzeug.serving import make_server

from bench.servers import local_ports_to
from tests.fakes import Call, Canned, FakeOpenAI, FakeTelegram, openai_error, telegram_error
from tests.processes import RedisServer

ROOT = Path(__file__).resolve().parent.parent
SECRET = "scenario-secret"
TAG = re.compile(r"c(\d+)m(\d+)")


@dataclass
class Plan:
    """How hard to push."""

    conversations: int = 12
    messages: int = 4  # per conversation
    duplicates: float = 0.3  # share of deliveries sent twice, half of them concurrently
    workers: int = 2
    concurrency: int = 1  # turns per worker process (WORKER_CONCURRENCY); safe kills need 1
    kills: int = 1  # workers SIGKILLed mid-turn (each replaced)
    young_kills: int = 0  # workers SIGKILLed the moment a turn of theirs asks the LLM: before its lease's first renewal
    safe_kills: bool = True  # kill only while every worker waits on the LLM: no part is ever half-delivered
    llm_faults: float = 0.15  # share of LLM calls answered 429, 500 or too late
    platform_faults: float = 0.1  # share of sends answered 502
    late_sends: float = 0.0  # share of sends Telegram takes but answers after PLATFORM_TIMEOUT
    redis_restart: bool = False
    timeout: float = 180.0
    seed: int = 7


@dataclass
class Report:
    """What the checks found."""

    messages: int = 0
    outcomes: Counter = field(default_factory=Counter)
    without_outcome: int = 0
    extra_outcomes: int = 0  # outcomes recorded beyond one per message
    duplicate_parts: int = 0
    out_of_order: int = 0
    answered_but_not_delivered: int = 0
    unconfirmed_not_delivered: int = 0  # recorded as unconfirmed, and indeed missing: the operator was told
    kills: int = 0
    seconds: float = 0.0

    @property
    def holds(self) -> bool:
        """Every message exactly one outcome, no part twice, none out of order, none answered in silence."""
        return not (self.without_outcome or self.extra_outcomes or self.duplicate_parts or self.out_of_order
                    or self.answered_but_not_delivered)

    def lines(self) -> list[str]:
        """The figures, one per line."""
        return [f"messages {self.messages}, outcomes {dict(self.outcomes)}", f"without an outcome {self.without_outcome}",
                f"more than one outcome {self.extra_outcomes}", f"duplicate reply parts {self.duplicate_parts}",
                f"replies out of order {self.out_of_order}", f"answered but never delivered {self.answered_but_not_delivered}",
                f"unconfirmed and indeed not delivered {self.unconfirmed_not_delivered}",
                f"workers killed {self.kills}, seconds {self.seconds:.1f}"]


class Scenario:
    """One run of a plan against a fresh Redis, fresh fakes, a real web server and real workers."""

    def __init__(self, plan: Plan, workdir: Path) -> None:
        self.plan = plan
        self.random = random.Random(plan.seed)
        self.redis = RedisServer(workdir, persistent=True)
        self.workdir = workdir
        self.llm, self.telegram = FakeOpenAI().start(), FakeTelegram().start()
        self.llm.fault = self._llm_fault
        self.telegram.fault = self._platform_fault
        self.env = self._environment()
        self.workers: list[subprocess.Popen] = []
        self.report = Report(messages=plan.conversations * plan.messages)

    def _environment(self) -> dict[str, str]:
        return {**os.environ, "REDIS_URL": self.redis.url, "OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": f"{self.llm.url}/v1",
                "OPENAI_TIMEOUT": "1", "OPENAI_MAX_RETRIES": "4", "PLATFORM_MAX_RETRIES": "4", "TELEGRAM_BOT_TOKEN": "1:T",
                "TELEGRAM_WEBHOOK_SECRET": SECRET, "TELEGRAM_API_URL": self.telegram.url, "LEASE_SECONDS": "3",
                "BURST_WINDOW": "0.2", "USER_RATE_LIMIT": "0", "USER_DAILY_TOKENS": "0", "LOG_LEVEL": "WARNING",
                "PROMPTS_DIR": str(ROOT / "prompts"), "WORKER_CONCURRENCY": str(self.plan.concurrency), "PLATFORM_TIMEOUT": "1"}

    def _llm_fault(self, call: Call) -> Canned | None:
        roll = self.random.random()
        if roll >= self.plan.llm_faults:
            return None
        kind = int(roll / self.plan.llm_faults * 3)
        return [openai_error(429, "Rate limit reached", retry_after="0"), openai_error(500, "The server had an error"),
                Canned(status=200, body={}, delay=1.5)][kind]  # the last one arrives after OPENAI_TIMEOUT

    def _platform_fault(self, call: Call) -> Canned | None:
        roll = self.random.random()
        if call.method != "sendMessage" or roll >= self.plan.platform_faults + self.plan.late_sends:
            return None
        if roll < self.plan.platform_faults:
            return telegram_error(502, "Bad Gateway")
        taken = {"ok": True, "result": {"message_id": 1, "chat": {"id": call.body.get("chat_id")}, "text": call.body.get("text")}}
        return Canned(body=taken, delay=1.5)  # delivered, but answered after PLATFORM_TIMEOUT

    def run(self) -> Report:
        """Send the traffic, inflict the faults, wait for every message to end, check the promise."""
        started = time.monotonic()
        server = self._serve()
        try:
            self._start_workers(self.plan.workers)
            chaos = threading.Thread(target=self._chaos, daemon=True)
            chaos.start()
            self._send_all(f"http://127.0.0.1:{server.server_port}/webhooks/telegram")
            chaos.join()
            self._wait_for_outcomes()
            self.report.seconds = time.monotonic() - started
            self._check()
        finally:
            self._stop(server)
        return self.report

    def _serve(self):
        sys.path.insert(0, str(ROOT))
        from app import create_app

        server = make_server("127.0.0.1", 0, create_app({k: v for k, v in self.env.items()}), threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server

    def _start_workers(self, count: int) -> None:
        for _ in range(count):
            with open(self.workdir / f"worker-{len(self.workers)}.log", "wb") as log:  # the worker keeps its own handle
                self.workers.append(subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "worker"], cwd=ROOT,
                                                     env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                                     start_new_session=True))

    def _send_all(self, url: str) -> None:
        with ThreadPoolExecutor(max_workers=8) as pool:
            futures = [pool.submit(self._converse, pool, url, c) for c in range(self.plan.conversations)]
            for future in futures:
                future.result()  # a conversation whose messages could not all be delivered fails the run

    def _converse(self, pool: ThreadPoolExecutor, url: str, c: int) -> None:
        """One user writing their messages in order, as Telegram delivers them: sequentially per chat."""
        for m in range(self.plan.messages):
            update = _update(c, m, self.plan.messages)
            _deliver(url, update)
            if self.random.random() < self.plan.duplicates:  # a platform retry: alongside, or right after
                pool.submit(_deliver, url, update) if self.random.random() < 0.5 else _deliver(url, update)
            time.sleep(self.random.uniform(0.05, 0.4))  # some messages in bursts, some apart

    def _chaos(self) -> None:
        try:
            self._kill_workers()
            for _ in range(self.plan.young_kills):
                self._kill_young()
        finally:
            self.llm.gate.set()
        if self.plan.redis_restart:
            self.redis.restart()

    def _kill_workers(self) -> None:
        for _ in range(self.plan.kills):
            time.sleep(self.random.uniform(0.5, 2.0))
            if self.plan.safe_kills and not self._all_workers_on_the_llm():
                continue  # no moment where every worker waited on the LLM: skip this kill
            self._kill(self.workers[self.random.randrange(len(self.workers))])
            self.llm.gate.set()

    def _kill_young(self) -> None:
        """SIGKILL the worker whose turn has just asked the LLM: the turn is younger than its lease's first renewal."""
        time.sleep(self.random.uniform(0.5, 2.0))
        caught: list[Call] = []
        self.llm.hold = lambda call: not caught and not caught.append(call)  # the next request waits, its socket open
        self.llm.gate.clear()
        try:
            self.llm.wait_for(lambda: bool(caught), timeout=30)
            port, llm_port = caught[0].peer, self.llm.server.server_port
            victim = next((w for w in self.workers if port in local_ports_to(w.pid, llm_port)), None)
            if victim is not None:
                self._kill(victim)
        finally:
            self.llm.hold = lambda call: False
            self.llm.gate.set()

    def _kill(self, victim: subprocess.Popen) -> None:
        """SIGKILL a worker (and its RQ scheduler), and start another in its place."""
        self.workers.remove(victim)
        os.killpg(victim.pid, signal.SIGKILL)
        victim.wait()
        self.report.kills += 1
        self._start_workers(1)

    def _all_workers_on_the_llm(self, patience: float = 10.0) -> bool:
        """Hold the LLM until each worker waits on it, so the one we kill is mid-turn but never mid-send."""
        self.llm.gate.clear()
        deadline = time.monotonic() + patience
        while time.monotonic() < deadline:
            with self.llm.lock:
                busy = sum(self.llm.in_flight.values())
            if busy >= len(self.workers):
                return True
            time.sleep(0.02)
        self.llm.gate.set()
        return False

    def _wait_for_outcomes(self) -> None:
        deadline = time.monotonic() + self.plan.timeout
        while time.monotonic() < deadline and len(self._outcomes()) < self.report.messages:
            time.sleep(0.25)

    def _outcomes(self) -> dict[str, str]:
        import json

        names = [f"bot:outcome:telegram:{_update_id(c, m, self.plan.messages)}"
                 for c in range(self.plan.conversations) for m in range(self.plan.messages)]
        values = _retrying(lambda: self.redis.client.mget(names))
        return {name: json.loads(value)["outcome"] for name, value in zip(names, values) if value}

    def _check(self) -> None:
        outcomes = self._outcomes()
        self.report.outcomes = Counter(outcomes.values())
        self.report.without_outcome = self.report.messages - len(outcomes)
        counted = {k.decode(): int(v) for k, v in self.redis.client.hgetall("bot:outcomes").items()}
        self.report.extra_outcomes = sum(counted.values()) - len(outcomes)
        replies = self._delivered_replies()
        tagged = [(chat, text) for chat, text in replies if TAG.search(text)]
        self.report.duplicate_parts = len(tagged) - len(set(tagged))
        self.report.out_of_order = _out_of_order(tagged)
        delivered = {str(_update_id(int(c), int(m), self.plan.messages)) for _, text in tagged for c, m in TAG.findall(text)}
        self.report.answered_but_not_delivered = len(_ids(outcomes, "replied", "merged") - delivered)
        self.report.unconfirmed_not_delivered = len(_ids(outcomes, "unconfirmed") - delivered)

    def _delivered_replies(self) -> list[tuple[int, str]]:
        return [(call.body["chat_id"], call.body["text"]) for call in self.telegram.delivered if call.method == "sendMessage"]

    def _stop(self, server) -> None:
        for worker in self.workers:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
        server.shutdown()
        self.llm.gate.set()
        self.llm.stop()
        self.telegram.stop()
        self.redis.stop()


def _ids(outcomes: dict[str, str], *wanted: str) -> set[str]:
    """The update ids of the messages that ended in one of the `wanted` outcomes."""
    return {name.rsplit(":", 1)[1] for name, outcome in outcomes.items() if outcome in wanted}


def _update_id(c: int, m: int, per_conversation: int) -> int:
    return 1_000_000 + c * per_conversation + m


def _update(c: int, m: int, per_conversation: int) -> dict:
    """Message m of conversation c, tagged so the replies show which messages they answer."""
    return {"update_id": _update_id(c, m, per_conversation), "message": {
        "message_id": m + 1, "from": {"id": 10_000 + c, "is_bot": False, "first_name": "User"},
        "chat": {"id": 10_000 + c, "type": "private"}, "date": int(time.time()), "text": f"c{c}m{m}"}}


def _deliver(url: str, update: dict) -> None:
    """POST like Telegram: again, with backoff, until a 2xx (Redis may be restarting)."""
    for attempt in range(60):
        try:
            if requests.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}, timeout=10).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(min(0.05 * 2**attempt, 1.0))
    raise RuntimeError(f"update {update['update_id']} was never accepted")


def _retrying(read):
    for _ in range(100):
        try:
            return read()
        except redis_lib.ConnectionError:
            time.sleep(0.1)
    return read()


def _out_of_order(tagged: list[tuple[int, str]]) -> int:
    """Replies whose messages come before those of an earlier reply in the same chat."""
    last: dict[int, int] = {}
    wrong = 0
    for chat, text in tagged:
        numbers = [int(m) for _, m in TAG.findall(text)]
        if numbers != sorted(numbers) or numbers[0] <= last.get(chat, -1):
            wrong += 1
        last[chat] = max(last.get(chat, -1), numbers[-1])
    return wrong
