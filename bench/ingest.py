"""Ingest: webhook requests per second the web side accepts, against a bare Flask app on the same gunicorn.

    .venv/bin/python -m bench.ingest                        # 3 rounds of 5 s per app and run: under 2 minutes
    .venv/bin/python -m bench.ingest --rounds 5 --duration 10 --conversations 100

Only 127.0.0.1: a throwaway Redis and the Procfile's `web` command serving the real app (Telegram
enabled, offline model, its API URL a dead local port), bench/bare.py's bare app (the ceiling: Flask
and gunicorn alone) and its naive one (one plain RQ enqueue per request), all three at once so that
their runs alternate round by round: a machine busy with other work then slows all of them, not one.
No RQ worker runs: only ingest is measured and the queue just grows. wrk (needs `apt-get install wrk`)
drives each app to saturation (closed loop) with a unique update_id per request; then bench/paced.py
sends at half the app's saturation rate (open loop) for the p99 a platform would see. Exit 1 if a
request got anything but 200 or the messages stored don't match the requests answered.
"""

from __future__ import annotations

import argparse
import itertools
import os
import signal
import statistics
import sys
import time
from collections import defaultdict
from contextlib import ExitStack
from importlib.metadata import version
from pathlib import Path
from typing import Callable

from redis import Redis
from rq import Queue

from bench import machine, paced, wrk
from bench.servers import PROCFILE_APP, redis_server, web_command, web_server
from bot import keys
from bot.config import Config
from bot.worker.local import free_port

APPS = {"app": PROCFILE_APP, "bare": "bench.bare:bare", "naive": "bench.bare:naive"}
PATH = "/webhooks/telegram"
SECRET = "bench-secret"
LUA = Path(__file__).with_name("ingest.lua")
# One Telegram update (tests/helpers.py's shape); %d: update_id, chat id. wrk's Lua formats it the same way. Dated now:
# the bot drops updates older than Telegram's dedupe horizon.
TEMPLATE = ('{"update_id":%d,"message":{"message_id":57,"from":{"id":42,"is_bot":false,"first_name":"Ada",'
            '"language_code":"en"},"chat":{"id":%d,"type":"private"},"date":' + str(int(time.time())) + ',"text":"hello"}}')


class Ingest:
    """Runs the apps round by round against one Redis, keeping the figures and the checks."""

    def __init__(self, args: argparse.Namespace, redis_url: str) -> None:
        self.args, self.redis_url = args, redis_url
        self.redis = Redis.from_url(redis_url)
        self.ids = itertools.count(10**9, 10**9)  # each load run starts its update_ids here: never a duplicate
        self.saturated: dict[str, list[wrk.Saturation]] = defaultdict(list)
        self.paced: dict[str, list[paced.Paced]] = defaultdict(list)
        self.failures: list[str] = []

    def run(self) -> None:
        """Start every app, warm each up, then the saturation rounds, then the paced rounds at half the app's rate."""
        names = ["app", "bare", "naive"] if self.args.naive else ["app", "bare"]
        with ExitStack() as stack:
            ports = {name: stack.enter_context(web_server(APPS[name], self._environment())) for name in names}
            for port in ports.values():
                self._load(port, self.args.warmup)  # every worker has imported its app and served a while
            for _ in range(self.args.rounds):
                for name, port in ports.items():
                    self.saturated[name].append(self._saturate(name, port))
            rate = statistics.median(run.rate for run in self.saturated["app"]) / 2
            for _ in range(self.args.rounds):
                for name in ("app", "bare"):
                    self.paced[name].append(self._pace(name, ports[name], rate))

    def _environment(self) -> dict[str, str]:
        """Telegram on, replies aimed at a port nobody listens on; OPENAI_API_KEY was removed in main."""
        return {"REDIS_URL": self.redis_url, "LOG_LEVEL": "WARNING", "TELEGRAM_BOT_TOKEN": "123:abc",
                "TELEGRAM_WEBHOOK_SECRET": SECRET, "TELEGRAM_API_URL": f"http://127.0.0.1:{free_port()}"}

    def _saturate(self, name: str, port: int) -> wrk.Saturation:
        """wrk at full speed, then the check: every answer a 200, every answered message stored."""
        self.redis.flushall()
        result = self._load(port, self.args.duration)
        line = f"{name} saturated: {result.ok} answered 200, {result.other} other, {result.errors} socket errors"
        passed = result.other == result.errors == 0 and result.ok > 0
        if name != "bare":
            stored, detail, agree = self._stored(name)
            line += f"; {result.sent} sent, {detail}"
            passed = passed and agree and result.ok <= stored <= result.sent  # in flight when wrk stopped: stored, unanswered
        self._check(line, passed)
        return result

    def _load(self, port: int, seconds: int) -> wrk.Saturation:
        """One wrk run, then a wait until the requests in flight when it stopped are stored too."""
        a = self.args
        script_args = [TEMPLATE, str(next(self.ids)), str(a.conversations), SECRET, str(a.threads)]
        result = wrk.run(f"http://127.0.0.1:{port}{PATH}", seconds, a.threads, a.connections, LUA, script_args)
        previous = -1
        while (size := self.redis.dbsize()) != previous:  # the server goes on after wrk hangs up
            previous = size
            time.sleep(0.25)
        return result

    def _pace(self, name: str, port: int, rate: float) -> paced.Paced:
        """Open loop at `rate`, then the check: every request answered 200 and, for the app, stored exactly once."""
        self.redis.flushall()
        headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET}
        target = paced.Target(port, PATH, headers, _bodies(next(self.ids), self.args.conversations))
        result = paced.run(target, rate, self.args.duration, self.args.paced_connections)
        statuses = dict(result.statuses)
        line, passed = f"{name} paced: statuses {statuses}", set(statuses) == {200}
        if name == "app":
            stored, detail, agree = self._stored(name)
            line, passed = f"{line}, {detail}", passed and agree and stored == statuses[200]
        self._check(line, passed)
        return result

    def _stored(self, name: str) -> tuple[int, str, bool]:
        """Messages kept (RQ jobs for naive) and, for the app, whether each has its dedupe id and each turn its job."""
        jobs = Queue(Config().queue_name, connection=self.redis).count
        if name == "naive":
            return jobs, f"{jobs} jobs queued", True
        stored = sum(self.redis.llen(key) for key in self.redis.scan_iter(keys.inbox("*"), count=1000))
        seen = sum(1 for _ in self.redis.scan_iter(keys.seen("telegram", "*"), count=10000))
        started = sum(1 for _ in self.redis.scan_iter(keys.pending("*"), count=1000))
        detail = f"{stored} stored, {seen} ids remembered, {started} turns started, {jobs} jobs"
        return stored, detail, seen == stored and started == jobs

    def _check(self, line: str, passed: bool) -> None:
        print(f"  {'ok  ' if passed else 'FAIL'} {line}", flush=True)
        if not passed:
            self.failures.append(line)

    def report(self) -> list[str]:
        """The figures: saturation per app and the ratios to bare, then the paced latencies, then the checks."""
        workers = os.environ.get("WEB_CONCURRENCY", "2")
        web = f"web: {web_command('<app>')} (WEB_CONCURRENCY={workers}, gunicorn {version('gunicorn')})"
        checks = f"checks: {'all passed' if not self.failures else f'{len(self.failures)} FAILED'}"
        return [web, *self._saturation_lines(), *self._paced_lines(), checks]

    def _saturation_lines(self) -> list[str]:
        a, bare = self.args, self.saturated["bare"]
        lines = [f"saturation: wrk -t{a.threads} -c{a.connections}, {a.rounds} rounds of {a.duration} s per app, "
                 f"{a.conversations} conversations; medians [min-max of the rounds]"]
        for name, runs in self.saturated.items():
            rates = [run.rate for run in runs]
            lines.append(f"  {name:6} {_median(rates, '.0f')} req/s   p50 {_median([r.p50_ms for r in runs], '.1f')} ms"
                         f"   p99 {_median([r.p99_ms for r in runs], '.1f')} ms")
        for name, runs in self.saturated.items():
            if name != "bare":  # each round's runs are next to each other in time: their ratio is the steadier figure
                ratios = [run.rate / floor.rate for run, floor in zip(runs, bare)]
                lines.append(f"  {name}/bare {_median(ratios, '.2f')}x" + (" (target >= 0.6x)" if name == "app" else ""))
        return lines

    def _paced_lines(self) -> list[str]:
        a, rate = self.args, self.paced["app"][0].rate
        lines = [f"open loop at half the app's saturation: {rate:.0f} req/s, {a.paced_connections} connections, "
                 f"{a.rounds} rounds of {a.duration} s per app; latencies of all rounds together"]
        for name, runs in self.paced.items():
            latencies, answered = [x for run in runs for x in run.latencies], sum(run.achieved for run in runs) / len(runs)
            ms = {q: paced.percentile(latencies, q) * 1e3 for q in (50, 99, 100)}
            lines.append(f"  {name:6} p50 {ms[50]:6.1f} ms   p99 {ms[99]:6.1f} ms   max {ms[100]:6.1f} ms   "
                         f"{answered:.0f} req/s answered")
        return lines + ["  (target: app p99 < 50 ms; bare's figures are the floor: this generator, loopback, gunicorn)"]


def _median(values: list[float], spec: str) -> str:
    """The median and, when there are several values, their range: how much the rounds disagreed."""
    middle = format(statistics.median(values), spec)
    return middle if len(values) == 1 else f"{middle} [{min(values):{spec}}-{max(values):{spec}}]"


def _bodies(first: int, conversations: int) -> Callable[[], bytes]:
    """Telegram updates with update_ids from `first` on, spread over the chats as the wrk script does."""
    ids = itertools.count(first)

    def body() -> bytes:
        update_id = next(ids)
        return (TEMPLATE % (update_id, 1 + update_id % conversations)).encode()

    return body


def main() -> None:
    """Run every app, print the figures; exit 1 if a check failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="saturation and paced runs per app, alternating")
    parser.add_argument("--duration", type=int, default=5, help="seconds of each run")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of wrk per app before the first round")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections")
    parser.add_argument("--paced-connections", type=int, default=16, help="connections of the open-loop generator")
    parser.add_argument("--conversations", type=int, default=1000, help="chat ids the updates are spread over")
    parser.add_argument("--no-naive", dest="naive", action="store_false", help="skip the naive one-enqueue app")
    args = parser.parse_args()
    wrk.binary()  # before starting anything: no wrk, one sentence on how to install it
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # stop the servers on `kill` too, not only Ctrl-C
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):  # the offline model: nothing leaves the machine
        os.environ.pop(name, None)
    with machine.OtherLoad() as others, redis_server() as url:
        bench = Ingest(args, url)
        bench.run()
    share = others.share()
    busy = f"; other processes used {share:.0%} of its CPU meanwhile" if share is not None else ""
    print("\n".join([f"machine: {machine.describe()}{busy}", *bench.report()]))
    sys.exit(1 if bench.failures else 0)


if __name__ == "__main__":
    main()
