"""The console's charts: the per-minute counts bot.ops.metrics keeps, and the queue as workers sample it, as series over the
last hour or day."""

from __future__ import annotations

from collections import Counter
from typing import Any

from redis import Redis
from rq import Worker

from bot import keys
from bot.ops import metrics
from bot.runtime import Runtime

GAUGES = ("queue_depth", "workers")  # sampled by the workers' sweepers, not counted: a minute without a worker has none
LATENCY = "turn_seconds:"  # the per-minute fields of reply latency, one per histogram bucket: turn_seconds:<bound>


def window(redis: Redis, minutes: int, now: float | None = None) -> dict[str, Any]:
    """The last `minutes` minutes: turns by outcome, failed LLM calls, reply latency's p50 and p95 (seconds, or None), each
    minute's and (under "total") the whole window's; and the queue's depth and workers as sampled (None: no sample)."""
    last = metrics.minute(now)
    numbers = range(last - minutes + 1, last + 1)
    pipe = redis.pipeline(transaction=False)
    for number in numbers:
        pipe.hgetall(keys.minute(number))
    counts = [{name.decode(): float(value) for name, value in found.items()} for found in pipe.execute()]
    outcomes = sorted({name.split(":", 1)[1] for minute in counts for name in minute if name.startswith("turns:")})
    return {"at": [number * 60 for number in numbers], "total": _total(sum(map(Counter, counts), Counter()), outcomes),
            "turns": {outcome: [minute.get(f"turns:{outcome}", 0) for minute in counts] for outcome in outcomes},
            "llm_errors": [minute.get("llm_errors", 0) for minute in counts],
            **{gauge: [minute.get(gauge) for minute in counts] for gauge in GAUGES},
            "p50": [percentile(minute, 0.5) for minute in counts], "p95": [percentile(minute, 0.95) for minute in counts]}


def _total(merged: Counter[str], outcomes: list[str]) -> dict[str, Any]:
    """The window's figures from its minutes' counts added up."""
    return {"turns": {outcome: merged[f"turns:{outcome}"] for outcome in outcomes}, "llm_errors": merged["llm_errors"],
            "p50": percentile(merged, 0.5), "p95": percentile(merged, 0.95)}


def sample(rt: Runtime) -> None:
    """Keep the queue's depth and the number of workers in this minute's counts (the minute's newest sample wins)."""
    key = keys.minute(metrics.minute())
    values = {"queue_depth": rt.turns.queue.count, "workers": Worker.count(connection=rt.redis)}
    rt.redis.pipeline(transaction=False).hset(key, mapping=values).expire(key, metrics.MINUTE_KEEP).execute()


def percentile(minute: dict[str, float], q: float) -> float | None:
    """The q-quantile of a minute's reply latencies, interpolated within its bucket as Prometheus's histogram_quantile does."""
    buckets = sorted((float(name[len(LATENCY):]), count) for name, count in minute.items() if name.startswith(LATENCY))
    rank, below, lower = q * sum(count for _, count in buckets), 0.0, 0.0
    for bound, count in buckets:
        if count and below + count >= rank:
            return lower if bound == float("inf") else round(lower + (bound - lower) * (rank - below) / count, 3)
        below, lower = below + count, bound
    return None

