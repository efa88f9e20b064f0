"""End to end: throughput, per-turn overhead and memory per running turn, webhooks in, replies out.

    /work/main/.venv/bin/python -m bench.e2e              # 1 worker x 32 slots, 32 conversations, 500 ms LLM, 30 s;
                                                          # then 8 workers x 1 slot (process per turn): under 2 min
    /work/main/.venv/bin/python -m bench.e2e --workers 2 --concurrency 16 --compare 0
    /work/main/.venv/bin/python -m bench.e2e --conversations 160 --think 2   # users who read before writing again
    /work/main/.venv/bin/python -m bench.e2e --sweep      # 16, 32, 64, 128 slots in one process: where it bends

Only 127.0.0.1: a throwaway Redis, the Procfile's web command (gunicorn, gthread, without its access
log), real worker processes (`flask --app app worker`, WORKER_CONCURRENCY slots each), a fake LLM that
answers after a fixed latency and a fake Telegram (tests/fakes.py, with keep-alive). Conversations are
closed loops: each sends its next message once the fake Telegram has its reply to the last (and,
with --think, that many seconds later). BURST_WINDOW=0, rate limits off, LOG_LEVEL=WARNING and
HISTORY_SUMMARY=0 (one LLM call per turn, as the ideal assumes). The CPU use printed by role ends
with what other processes on the machine took meanwhile: on a shared machine, read that first.

Throughput is a ratio to the ideal, concurrent turns / LLM latency. A turn's overhead is the time from
its webhook POST to the fake Telegram receiving sendMessage, minus the time the fake LLM spent on it
(measured inside the fake). Memory per turn is the workers' resident memory under load minus the
same processes idle (after a few priming turns), over the turns running at once; a worker's memory
includes its RQ scheduler, a forked process (RSS counts the pages they share twice, PSS once).
"""

from __future__ import annotations

import argparse
import itertools
import os
import queue
import re
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter, deque
from contextlib import ExitStack
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import redis as redis_lib
import requests
from rq import Worker

from bench import machine, servers
from tests import loopback
from tests.fakes import Call, Canned, FakeOpenAI, FakeTelegram, completion
from tests.helpers import TELEGRAM_SECRET, TELEGRAM_TOKEN, update

CHAT_BASE = 10_000  # conversation c is Telegram chat CHAT_BASE + c
PRIMING_CHATS = 1_000_000  # the priming turns' chats, apart from the measured ones
TAG = re.compile(r"c(\d+)m(\d+)")  # c<chat id>m<message number>: what each reply answers
MB = 1024 * 1024
_update_ids = itertools.count(1)


@dataclass
class Load:
    """One run: how many conversations, worker processes and slots, the LLM's latency, how long."""

    conversations: int = 32
    concurrency: int = 32  # WORKER_CONCURRENCY
    workers: int = 1
    latency: float = 0.5
    duration: float = 30.0
    warmup: float = 5.0
    think: float = 0.0  # seconds a user waits after a reply before writing again
    sample_every: float = 0.5  # seconds between samples of the workers' memory

    @property
    def in_flight(self) -> float:
        """Turns running at once if nothing but the LLM took time: conversations not thinking, at most one per slot."""
        return min(self.conversations * self.latency / (self.latency + self.think), self.workers * self.concurrency)

    @property
    def ideal(self) -> float:
        """Turns per second if nothing but the LLM took time."""
        return self.in_flight / self.latency

    def label(self) -> str:
        """What ran, in one phrase."""
        return (f"{self.workers} worker x {self.concurrency} slots, {self.conversations} conversations, "
                f"LLM {self.latency * 1000:.0f} ms, {f'think {self.think:g} s, ' if self.think else ''}"
                f"{self.duration:.0f} s after {self.warmup:.0f} s warm-up")


@dataclass
class Exchange:
    """One message in flight: when it was posted and accepted, and when the fake LLM had it."""

    tag: str
    posted: float
    accepted: float = 0.0
    llm_in: float = 0.0
    llm_out: float = 0.0


@dataclass
class Sample:
    """One turn's timings, in seconds: overhead (all but the LLM), and its parts."""

    overhead: float
    webhook: float  # POST until its 200
    to_llm: float  # 200 until the LLM request arrives (the typing indicator goes alongside, on another thread)
    after_llm: float  # LLM response until sendMessage arrives


class CpuWindow:
    """Cores used during a window, by role: the workers, Redis, the web server, this driver (fakes included), others."""

    def __init__(self, roles: dict[int, str]) -> None:
        self.roles = roles  # pid -> role; this process's other descendants are the web server
        self.start = (time.monotonic(), machine.machine_busy(), servers.cpu_seconds(os.getpid()))

    def cores(self) -> dict[str, float]:
        """Average cores each role used since the window opened."""
        now = (time.monotonic(), machine.machine_busy(), servers.cpu_seconds(os.getpid()))
        (t0, busy0, ours0), (t1, busy1, ours1) = self.start, now
        cores = Counter[str]()
        for pid, seconds in ours1.items():
            role = "driver" if pid == os.getpid() else self.roles.get(pid, "web")
            cores[role] += (seconds - ours0.get(pid, 0.0)) / (t1 - t0)
        cores["other processes"] = max(0.0, (busy1 - busy0) / (t1 - t0) - sum(cores.values()))
        return dict(cores)


class Traffic:
    """Closed-loop conversations: each sends its next message once the fake Telegram has the reply to the last."""

    def __init__(self, url: str, chats: range, think: float = 0.0, senders: int = 32) -> None:
        self.url = url
        self.chats = chats
        self.think = think
        self.next_message = Counter[int]()
        self.in_flight: dict[int, Exchange] = {}
        self.samples: list[Sample] = []
        self.recording = False
        self.running = True
        self.errors = Counter[str]()
        self.outbox: queue.Queue[tuple[float, int] | None] = queue.Queue()  # (when to send, chat), in that order
        self.senders = [threading.Thread(target=self._send_loop, daemon=True) for _ in range(min(senders, len(chats)))]

    def start(self, spread: float) -> None:
        """Every conversation sends its first message, their starts spread evenly over `spread` seconds.

        Users don't all write at the same instant; started together, with an LLM that always takes the
        same time, their turns would keep arriving in bursts.
        """
        for thread in self.senders:
            thread.start()
        now = time.monotonic()
        for index, chat in enumerate(self.chats):
            self.outbox.put((now + spread * index / len(self.chats), chat))

    def stop(self, timeout: float = 30.0) -> None:
        """Send no more; wait for the replies still owed."""
        self.running = False
        deadline = time.monotonic() + timeout
        while self.in_flight and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.in_flight:
            self.errors["unanswered"] += len(self.in_flight)
        for _ in self.senders:
            self.outbox.put(None)

    def llm_answered(self, chat: int, started: float, ended: float) -> None:
        """The fake LLM's own time on this conversation's message."""
        exchange = self.in_flight.get(chat)
        if exchange is not None:
            exchange.llm_in, exchange.llm_out = started, ended

    def replied(self, chat: int, text: str, at: float) -> None:
        """The fake Telegram received the reply: record the turn, send the conversation's next message."""
        exchange = self.in_flight.pop(chat, None)
        if exchange is None:
            return
        if exchange.tag not in text:
            self.errors["wrong reply"] += 1
        if self.recording:
            llm = exchange.llm_out - exchange.llm_in
            self.samples.append(Sample(at - exchange.posted - llm, exchange.accepted - exchange.posted,
                                       exchange.llm_in - exchange.accepted, at - exchange.llm_out))
        if self.running:
            self.outbox.put((at + self.think, chat))

    def _send_loop(self) -> None:
        session = requests.Session()
        while (item := self.outbox.get()) is not None:
            due, chat = item
            time.sleep(max(0.0, due - time.monotonic()))
            if self.running:
                self._post(session, chat)

    def _post(self, session: requests.Session, chat: int) -> None:
        tag = f"c{chat}m{self.next_message[chat]}"
        self.next_message[chat] += 1
        exchange = self.in_flight[chat] = Exchange(tag, time.monotonic())
        try:
            response = session.post(self.url, json=update(tag, chat_id=chat, update_id=next(_update_ids)),
                                    headers={"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}, timeout=30)
            exchange.accepted = time.monotonic()
            if response.status_code != 200:
                self.errors[f"webhook {response.status_code}"] += 1
        except requests.RequestException as error:
            self.errors[type(error).__name__] += 1


class _KeepAlive:
    """Fakes that keep connections open, as the real APIs do, and keep only recent requests (long runs)."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: deque[Call] = deque(maxlen=100)  # type: ignore[assignment]
        self.delivered: deque[Call] = deque(maxlen=100)  # type: ignore[assignment]
        self.traffic: Traffic | None = None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        handler = super()._handler()  # type: ignore[misc]

        def setup(self: BaseHTTPRequestHandler) -> None:
            handler.setup(self)
            # The handler writes headers and body apart: with Nagle's algorithm the body would wait for the
            # client's delayed ACK, 40 ms a call, which real APIs don't cost (HTTP/1.0 hid it: the close flushed).
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        return type("KeepAliveHandler", (handler,), {"protocol_version": "HTTP/1.1", "setup": setup})


class PacedLLM(_KeepAlive, FakeOpenAI):
    """The fake OpenAI, answering every completion after a fixed latency, timed from inside."""

    latency = 0.5

    def respond(self, call: Call) -> Canned:
        started = time.monotonic()
        time.sleep(self.latency)
        canned = Canned(body=completion(self.default_text(call.body["messages"])))
        found = TAG.search(call.body["messages"][-1]["content"])
        if self.traffic is not None and found:
            self.traffic.llm_answered(int(found[1]), started, time.monotonic())
        return self._streamed(canned, "completions", call.body) if call.body.get("stream") else canned  # as OpenAI does


class CountingTelegram(_KeepAlive, FakeTelegram):
    """The fake Telegram, telling the traffic when a reply arrives (and never scanning its past requests)."""

    message_ids = itertools.count(1)

    def respond(self, call: Call) -> Canned:
        if call.method != "sendMessage":
            return Canned(body={"ok": True, "result": True})
        if self.traffic is not None:
            self.traffic.replied(int(call.body["chat_id"]), call.body["text"], time.monotonic())
        result = {"message_id": next(self.message_ids), "chat": {"id": call.body["chat_id"]}, "text": call.body["text"]}
        return Canned(body={"ok": True, "result": result})


@dataclass
class Result:
    """What one run measured."""

    load: Load
    seconds: float
    samples: list[Sample]
    errors: Counter
    memory: dict[str, dict[str, int]]  # "cold" (just started), "idle" (after priming), "load" (peak): rss, pss, uss
    series: list[tuple[float, dict[str, int]]]  # the workers' memory under load: (seconds into the window, sample)
    connections: Counter  # the workers' Redis connections under load, by their last command
    web_connections: int  # the web server's Redis connections, all its processes
    turns_per_job: float
    cpu: dict[str, float]  # cores used in the measured window, by role
    commands: int  # Redis commands processed in the measured window (web, workers and sweepers)

    @property
    def throughput(self) -> float:
        """Turns answered per second in the measured window."""
        return len(self.samples) / self.seconds

    def per_turn(self, kind: str) -> float:
        """MB of `kind` memory (rss, pss, uss) each running turn adds to the workers."""
        return (self.memory["load"][kind] - self.memory["idle"][kind]) / self.load.in_flight / MB

    def ms(self, name: str, q: int) -> float:
        """The q-th percentile of one of Sample's timings, in milliseconds."""
        values = [getattr(sample, name) for sample in self.samples]
        return statistics.quantiles(values, n=100, method="inclusive")[q - 1] * 1000 if len(values) > 1 else float("nan")

    def lines(self) -> list[str]:
        """The figures, one per line, each against its baseline."""
        load, rss = self.load, self.memory["load"]["rss"] / MB
        return [
            f"  throughput  {self.throughput:.1f} turns/s = {self.throughput / load.ideal:.2f}x ideal ({load.in_flight:.0f} "
            f"turns at once / {load.latency * 1000:.0f} ms = {load.ideal:.1f}/s); {len(self.samples)} turns",
            f"  overhead    p50 {self.ms('overhead', 50):.1f} ms, p99 {self.ms('overhead', 99):.1f} ms "
            f"(webhook POST to sendMessage, minus the fake LLM's own time)",
            *(f"    parts p{q} webhook answered {self.ms('webhook', q):.1f} ms, then "
              f"LLM request {self.ms('to_llm', q):.1f} ms; LLM response to sendMessage {self.ms('after_llm', q):.1f} ms"
              for q in (50, 99)),
            f"  memory      {self.per_turn('rss'):.2f} MB RSS per running turn (PSS {self.per_turn('pss'):.2f}, "
            f"USS {self.per_turn('uss'):.2f}); workers' RSS {rss:.0f} MB (PSS {self.memory['load']['pss'] / MB:.0f}) under load, "
            f"{self.memory['idle']['rss'] / MB:.0f} MB idle, {self.memory['cold']['rss'] / MB:.0f} MB just started; "
            f"total RSS per running turn {rss / load.in_flight:.2f} MB",
            f"  redis       {sum(self.connections.values())} connections from the workers under load "
            f"(by last command: {dict(self.connections.most_common())}); {self.web_connections} from the web server; "
            f"{self.commands / max(1, len(self.samples)):.1f} commands per turn (web, workers, leases and sweeps)",
            f"  cpu         {self._cpu()} of {os.cpu_count()} CPUs",
            f"  rq          {self.turns_per_job:.2f} turns per RQ job finished "
            "(a message arriving before its turn ended joins it)",
            f"  errors      {dict(self.errors) or 'none'}",
        ]

    def _cpu(self) -> str:
        """Cores by role, and CPU milliseconds per turn for ours."""
        per_turn = {role: cores / self.throughput * 1000 for role, cores in self.cpu.items() if role != "other processes"}
        ours = ", ".join(f"{role} {self.cpu[role]:.2f} ({ms:.1f} ms/turn)" for role, ms in per_turn.items())
        return f"cores used: {ours}; other processes {self.cpu['other processes']:.2f}"


def bot_env(redis_url: str, llm_url: str, telegram_url: str) -> dict[str, str]:
    """The bot's settings for a bench: the fakes, answers at once, no limits, warnings only."""
    return {"REDIS_URL": redis_url, "OPENAI_API_KEY": "sk-bench", "OPENAI_BASE_URL": f"{llm_url}/v1",
            "OPENAI_MODEL": "bench-model", "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN, "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
            "TELEGRAM_API_URL": telegram_url, "BURST_WINDOW": "0", "USER_RATE_LIMIT": "0", "USER_DAILY_TOKENS": "0",
            "HISTORY_SUMMARY": "0", "LOG_LEVEL": "WARNING", "PROMPTS_DIR": str(servers.ROOT / "prompts")}


class Stack:
    """Redis, the fakes and the web server, shared by runs; each run starts worker processes of its own."""

    llm_type, telegram_type, traffic_type = PacedLLM, CountingTelegram, Traffic  # bench/streaming.py's are others

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.exit = ExitStack()
        self.measured: Traffic | None = None  # the last run's traffic

    def __enter__(self) -> Stack:
        loopback.install()  # what it starts reaches only 127.0.0.1, as in the tests
        redis_url = self.exit.enter_context(servers.redis_server())
        self.redis = redis_lib.Redis.from_url(redis_url)
        self.redis_port = int(redis_url.rsplit(":", 1)[1].split("/")[0])
        self.llm, self.telegram = self.llm_type().start(), self.telegram_type().start()
        self.exit.callback(self.llm.stop)
        self.exit.callback(self.telegram.stop)
        self.env = bot_env(redis_url, self.llm.url, self.telegram.url)
        port = self.exit.enter_context(servers.web_server(servers.PROCFILE_APP, self.env))
        self.url = f"http://127.0.0.1:{port}/webhooks/telegram"
        return self

    def __exit__(self, *exc: object) -> None:
        self.exit.close()

    def run(self, load: Load) -> Result:
        """Start the workers, prime them, drive the load, measure; the workers are stopped after."""
        self.redis.flushall()
        self.llm.latency = load.latency
        workers = self.start_workers(load)
        try:
            cold = self.memory(workers)
            chats = range(PRIMING_CHATS, PRIMING_CHATS + int(min(load.in_flight, 4 * load.workers)))
            priming = self.traffic_type(self.url, chats)
            self.drive(priming, 4 * load.latency)  # lazy imports and first connections are not per-turn memory
            return self._measure(load, workers, {"cold": cold, "idle": self.memory(workers)})
        finally:
            for worker in workers:
                servers.stop(worker)

    def start_workers(self, load: Load) -> list:
        """`flask --app app worker` processes, the Procfile's worker line, once every slot is registered."""
        env = {**self.env, "WORKER_CONCURRENCY": str(load.concurrency)}
        workers = []
        for index in range(load.workers):
            with open(self.logs / f"worker-{index}.log", "ab") as log:  # the worker keeps its own handle
                workers.append(servers.spawn([sys.executable, "-m", "flask", "--app", "app", "worker"], env, log))
        try:
            self._wait_for_slots(load.workers * load.concurrency, workers)
        except BaseException:
            for worker in workers:
                servers.stop(worker)
            raise
        return workers

    def _wait_for_slots(self, slots: int, workers: list) -> None:
        deadline = time.monotonic() + 60 + 5 * len(workers)  # imports on a busy 2-core machine take a while
        while Worker.count(connection=self.redis) < slots:
            if time.monotonic() > deadline or any(worker.poll() is not None for worker in workers):
                raise SystemExit(f"workers did not start: see {self.logs}")
            time.sleep(0.1)

    def drive(self, traffic: Traffic, seconds: float, stop: bool = True) -> None:
        """Run `traffic` against the stack for `seconds`, then (with `stop`) wait for the replies it is owed."""
        self.llm.traffic = self.telegram.traffic = traffic
        traffic.start(spread=self.llm.latency)
        time.sleep(seconds)
        if stop:
            traffic.stop()

    def _measure(self, load: Load, workers: list, memory: dict[str, dict[str, int]]) -> Result:
        traffic = self.measured = self.traffic_type(self.url, range(CHAT_BASE, CHAT_BASE + load.conversations), load.think)
        self.drive(traffic, load.warmup, stop=False)
        ours = self.processes(workers)
        cpu = CpuWindow({pid: role for role, pids in ours.items() for pid in pids})
        jobs, commands = self.jobs_done(), self.commands()
        traffic.recording, started = True, time.monotonic()
        series = self.watch(workers, started + load.duration, load.sample_every)
        traffic.recording, seconds, cores, jobs = False, time.monotonic() - started, cpu.cores(), self.jobs_done() - jobs
        commands = self.commands() - commands
        memory["load"] = {kind: max(sample[kind] for _, sample in series) for kind in series[0][1]}
        connections, web = self.connections(ours["workers"]), self.connections(ours["web"])
        traffic.stop(timeout=30 + 2 * load.conversations / load.ideal)  # a long queue takes a while to drain
        return Result(load, seconds, traffic.samples, traffic.errors, memory, series, connections, sum(web.values()),
                      len(traffic.samples) / max(1, jobs), cores, commands)

    def processes(self, workers: list) -> dict[str, set[int]]:
        """Our processes by role: workers (with their RQ scheduler), redis and web (this driver's other children)."""
        ours = {"workers": set().union(*(servers.descendants(worker.pid) for worker in workers)),
                "redis": {self.redis.info("server")["process_id"]}}
        ours["web"] = servers.descendants(os.getpid()) - ours["workers"] - ours["redis"] - {os.getpid()}
        return ours

    def memory(self, workers: list) -> dict[str, int]:
        """The workers' resident memory (with their RQ scheduler processes), added up: rss, pss, uss."""
        total = Counter[str]()
        for pid in self.processes(workers)["workers"]:
            total.update(servers.memory(pid))
        return dict(total)

    def watch(self, workers: list, until: float, every: float) -> list[tuple[float, dict[str, int]]]:
        """The workers' memory (added up) every `every` seconds until `until`: (seconds since the first, sample)."""
        started, series = time.monotonic(), []
        while not series or time.monotonic() < until:
            series.append((time.monotonic() - started, self.memory(workers)))
            time.sleep(max(0.0, min(every, until - time.monotonic())))
        return series

    def connections(self, pids: set[int]) -> Counter:
        """The processes' Redis connections as CLIENT LIST shows them, by their last command."""
        ports = set().union(*(servers.local_ports_to(pid, self.redis_port) for pid in pids))
        clients = self.redis.client_list()
        return Counter(client["cmd"] for client in clients if int(client["addr"].rsplit(":", 1)[1]) in ports)

    def commands(self) -> int:
        """Redis commands processed so far."""
        return int(self.redis.info("stats")["total_commands_processed"])

    def jobs_done(self) -> int:
        """RQ jobs the registered slots have finished, added up."""
        return sum(worker.successful_job_count + worker.failed_job_count for worker in Worker.all(connection=self.redis))


def report(title: str, result: Result) -> None:
    """Print one run's figures under its title."""
    print(f"{title}: {result.load.label()}   [{machine.describe(load=True)}]", flush=True)
    print("\n".join(result.lines()), flush=True)


HEADER = ("workers x slots  conversations  turns/s  ideal  ratio  overhead p50/p99 ms  RSS MB  MB/turn  redis  turns/job"
          "  worker cores (ms/turn)  other cores")


def row(result: Result) -> str:
    """One run's figures as a line under HEADER; errors, if any, at its end."""
    load, cpu, errors = result.load, result.cpu, dict(result.errors)
    workers_ms = cpu.get("workers", 0.0) / result.throughput * 1000
    return (f"{load.workers:7d} x {load.concurrency:<5d}  {load.conversations:13d}  {result.throughput:7.1f}  {load.ideal:5.0f}"
            f"  {result.throughput / load.ideal:4.2f}x  {result.ms('overhead', 50):8.1f} / {result.ms('overhead', 99):7.1f}"
            f"  {result.memory['load']['rss'] / MB:5.0f}  {result.per_turn('rss'):7.2f}  {sum(result.connections.values()):5d}"
            f"  {result.turns_per_job:9.1f}  {cpu.get('workers', 0.0):12.2f} ({workers_ms:4.1f})"
            f"  {cpu.get('other processes', 0.0):11.2f}  {errors or ''}")


def sweep(stack: Stack, latency: float, duration: float) -> None:
    """Slots in one process at 16, 32, 64 and 128 (as many conversations): where throughput bends."""
    print(f"slots in one worker process   [{machine.describe(load=True)}]\n{HEADER}", flush=True)
    for slots in (16, 32, 64, 128):
        print(row(stack.run(Load(slots, slots, 1, latency, duration, warmup=3))), flush=True)


def arguments() -> argparse.Namespace:
    """The command line; defaults are the issue's: 32 turns at once in one process, a 500 ms LLM, 30 s."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=32)
    parser.add_argument("--concurrency", type=int, default=32, help="WORKER_CONCURRENCY: turns per worker process")
    parser.add_argument("--workers", type=int, default=1, help="worker processes")
    parser.add_argument("--llm-latency", type=float, default=0.5, help="seconds the fake LLM takes per completion")
    parser.add_argument("--duration", type=float, default=30, help="seconds measured, after the warm-up")
    parser.add_argument("--warmup", type=float, default=5)
    parser.add_argument("--think", type=float, default=0, help="seconds each user waits after a reply before writing again")
    parser.add_argument("--compare", type=int, default=8, metavar="N",
                        help="then N processes of 1 slot each (process per turn) for half as long; 0: skip")
    parser.add_argument("--sweep", action="store_true", help="instead: 16, 32, 64, 128 slots in one process, 10 s each")
    return parser.parse_args()


def main() -> None:
    """Run the load (and the comparison, or the sweep) and print the figures."""
    args = arguments()
    with Stack(Path(tempfile.mkdtemp(prefix="bench-e2e-"))) as stack:  # the workers' logs are kept there
        if args.sweep:
            sweep(stack, args.llm_latency, min(args.duration, 10))
        else:
            load = Load(args.conversations, args.concurrency, args.workers, args.llm_latency, args.duration, args.warmup,
                        args.think)
            report("slots", stack.run(load))
            if args.compare:
                compared = Load(args.compare, 1, args.compare, args.llm_latency, args.duration / 2, args.warmup)
                report("process per turn (the baseline)", stack.run(compared))
        print(f"worker logs: {stack.logs}")


if __name__ == "__main__":
    main()
