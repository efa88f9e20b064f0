"""Prometheus metrics, added up in Redis so that every web and worker process, on every dyno, counts
into the same figures and any web process can serve them all at /metrics.

Each process buffers its counts and adds them to one Redis hash about once a second (and a turn
job at its end), so recording costs no round trip on the request path. The same flush adds a few of them
to per-minute hashes too, kept two days, for the console's charts (bot.ops.series reads them).
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import threading
import time
import weakref
from collections import defaultdict
from dataclasses import dataclass
from typing import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from redis import Redis
from redis.exceptions import RedisError

from bot import keys

logger = logging.getLogger(__name__)

FLUSH_SECONDS = 1.0
PREFIX = "chatbot_"


@dataclass(frozen=True)
class Spec:
    """One metric: its help text, labels, and (for a histogram) bucket bounds in seconds."""

    help: str
    labels: tuple[str, ...]
    buckets: tuple[float, ...] = ()


TURN_BUCKETS = (0.5, 1, 2, 3, 5, 8, 13, 20, 30, 60, 120)
LLM_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 60)

COUNTERS = {
    "webhooks": Spec("Webhook requests answered, by platform (or business-event source) and HTTP status.",
                     ("platform", "status")),
    "dedupe_hits": Spec("Webhook messages already seen (platform retries), answered once.", ("platform",)),
    "stale_events": Spec("Webhook messages older than the platform's dedupe horizon: acknowledged, not answered.", ("platform",)),
    "turns": Spec("Turns finished, by outcome: replied, merged (a burst answered as one), notice, "
                  "dead_letter, handoff, rejected.", ("platform", "outcome")),
    "merged_messages": Spec("Messages answered together with others in one merged turn.", ("platform",)),
    "llm_tokens": Spec("LLM tokens used, by kind (prompt, completion).", ("kind",)),
    "llm_errors": Spec("Failed LLM calls, by kind (rate_limited, server, timeout, refused, quota, ...).", ("kind",)),
    "deliveries": Spec("Reply parts sent to platforms, by status (sent, plain_fallback, failed).", ("platform", "status")),
    "dead_letters": Spec("Turns dead-lettered: see `flask dead-letters list`.", ("platform",)),
    "limit_notices": Spec("Turns refused by a per-user limit (rate, budget); notified=no once already told.",
                          ("limit", "notified")),
    "business_events": Spec("Business events (Stripe, Shopify, ...) by source and what became of them: duplicate, queued "
                            "(for its conversation's turn), no_rule, no_recipient, rejected, dead_letter.",
                            ("source", "outcome")),
    "tool_calls": Spec("Tool calls, by tool and outcome (ok, error, unknown: it may or may not have acted).",
                       ("tool", "outcome")),
}
# Counted per minute as well, by these labels: turns by outcome, failed LLM calls, and when replies were sent.
PER_MINUTE = {"turns": ("outcome",), "llm_errors": (), "turn_seconds": ()}
MINUTE_KEEP = 2 * 86400  # seconds a minute's counts are kept: the console charts the last day
HISTOGRAMS = {
    "turn_seconds": Spec("From receipt of a turn's first message to its reply sent.", ("platform",), TURN_BUCKETS),
    "llm_seconds": Spec("One LLM call, successful or not.", ("outcome",), LLM_BUCKETS),
    "tool_seconds": Spec("One tool call, retries included, successful or not.", ("tool",), LLM_BUCKETS),
}


class Metrics:
    """A process's recorder: counts and observations buffered here, added to Redis by `flush`."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._pending: dict[tuple[str, str], float] = defaultdict(float)  # by Redis hash and field
        self._lock = threading.Lock()
        self._flushing = threading.Lock()
        self._flusher_pid = 0  # the process whose flusher thread runs: a forked child starts its own
        _recorders.add(self)

    def count(self, name: str, amount: float = 1, **labels: str) -> None:
        """Add `amount` to a counter."""
        self._add(field(name, **labels), amount)
        if name in PER_MINUTE:
            self._add(":".join([name, *(labels[label] for label in PER_MINUTE[name])]), amount, keys.minute(minute()))

    def observe(self, name: str, seconds: float, **labels: str) -> None:
        """Record one duration in a histogram: its cumulative buckets, sum and count."""
        spec = HISTOGRAMS[name]
        for bound in (*spec.buckets, float("inf")):
            if seconds <= bound:
                self._add(_field(name, spec, {**labels, "le": _bound(bound)}), 1)
        self._add(_field(name + "_sum", spec, labels), seconds)
        if name in PER_MINUTE:  # the minute keeps the one bucket the duration fell in: enough for its percentiles
            fell_in = next(bound for bound in (*spec.buckets, float("inf")) if seconds <= bound)
            self._add(f"{name}:{_bound(fell_in)}", 1, keys.minute(minute()))

    def flush(self) -> None:
        """Add the buffered figures to Redis; kept for the next flush if Redis is down."""
        with self._flushing:  # one flush at a time: when flush() returns, everything recorded before is in Redis
            with self._lock:
                taken, self._pending = self._pending, defaultdict(float)
            if taken:
                self._write(taken)

    def _write(self, taken: dict[tuple[str, str], float]) -> None:
        try:
            pipe = self.redis.pipeline(transaction=False)
            for (key, field_name), amount in taken.items():
                pipe.hincrbyfloat(key, field_name, amount)
            for key in {key for key, _ in taken} - {keys.metrics()}:
                pipe.expire(key, MINUTE_KEEP)
            pipe.execute()
        except RedisError:
            self._merge(taken)

    def _add(self, field: str, amount: float, key: str = "") -> None:
        with self._lock:
            self._pending[key or keys.metrics(), field] += amount
        if self._flusher_pid != os.getpid():
            self._start_flusher()

    def _forget(self) -> None:
        """In a forked child: the buffered counts are the parent's to flush, not ours too."""
        self._lock, self._flushing = threading.Lock(), threading.Lock()
        self._pending = defaultdict(float)

    def _merge(self, taken: dict[tuple[str, str], float]) -> None:
        with self._lock:
            for where, amount in taken.items():
                self._pending[where] += amount

    def _start_flusher(self) -> None:
        self._flusher_pid = os.getpid()
        threading.Thread(target=self._flush_forever, name="metrics", daemon=True).start()

    def _flush_forever(self) -> None:
        while True:
            time.sleep(FLUSH_SECONDS)
            self.flush()


def flush_all() -> None:
    """Flush every recorder of this process: at exit, so a stopping process keeps its last second of counts."""
    for recorder in list(_recorders):
        recorder.flush()


_recorders: weakref.WeakSet[Metrics] = weakref.WeakSet()
os.register_at_fork(after_in_child=lambda: [recorder._forget() for recorder in _recorders])
atexit.register(flush_all)


def minute(at: float | None = None) -> int:
    """The minute `at` (default: now) falls in, as its per-minute counts are keyed."""
    return int((time.time() if at is None else at) // 60)


def field(name: str, **labels: str) -> str:
    """A counter's hash field, for code that adds to it in its own Redis pipeline (dead letters do)."""
    return _field(name, COUNTERS[name], labels)


def _field(name: str, spec: Spec, labels: dict[str, str]) -> str:
    """A hash field: the metric's name and its label values, in the spec's order (then `le`)."""
    names = [*spec.labels, "le"] if "le" in labels else list(spec.labels)
    return json.dumps([name, *(str(labels[label]) for label in names)])


def _bound(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(float(bound))


class Collector:
    """What /metrics shows: the counters and histograms from Redis, and gauges read at scrape time."""

    def __init__(self, redis: Redis, gauges: Callable[[], dict[str, tuple[str, float]]]) -> None:
        self.redis = redis
        self.gauges = gauges

    def collect(self) -> Iterator[Metric]:
        """Called by prometheus_client on every scrape."""
        stored = self._stored()
        for name, spec in COUNTERS.items():
            family = CounterMetricFamily(PREFIX + name, spec.help, labels=spec.labels)
            for values, amount in stored.get(name, {}).items():
                family.add_metric(values, amount)
            yield family
        for name, spec in HISTOGRAMS.items():
            yield _histogram(name, spec, stored)
        for name, (help_text, value) in self.gauges().items():
            yield GaugeMetricFamily(PREFIX + name, help_text, value=value)

    def _stored(self) -> dict[str, dict[tuple[str, ...], float]]:
        """The Redis hash as {metric name: {label values: amount}}."""
        stored: dict[str, dict[tuple[str, ...], float]] = defaultdict(dict)
        for field, amount in self.redis.hgetall(keys.metrics()).items():
            name, *values = json.loads(field)
            stored[name][tuple(values)] = float(amount)
        return stored


def _histogram(name: str, spec: Spec, stored: dict[str, dict[tuple[str, ...], float]]) -> HistogramMetricFamily:
    """One histogram family from its stored buckets (label values + `le`) and sums."""
    family = HistogramMetricFamily(PREFIX + name, spec.help, labels=spec.labels)
    series: dict[tuple[str, ...], list[tuple[str, float]]] = defaultdict(list)
    for values, amount in stored.get(name, {}).items():
        series[values[:-1]].append((values[-1], amount))
    for values, buckets in sorted(series.items()):
        ordered = sorted(buckets, key=lambda bucket: float(bucket[0]))
        family.add_metric(list(values), ordered, stored.get(name + "_sum", {}).get(values, 0.0))
    return family
