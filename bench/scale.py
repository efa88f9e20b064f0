"""Scaling: throughput as worker processes and conversations grow; and a long run's memory, flat or not.

    /work/main/.venv/bin/python -m bench.scale                  # processes 1, 2, 4; conversations 10, 100, 1000: ~4 min
    /work/main/.venv/bin/python -m bench.scale --concurrency 32 --duration 20
    /work/main/.venv/bin/python -m bench.scale --memory --minutes 10   # worker RSS every 10 s under steady load

The machinery is bench/e2e.py's (real web server and workers, the fake LLM and Telegram, closed-loop
conversations, only 127.0.0.1). Throughput is a ratio to the ideal: turns that can run at once
(conversations, at most the slots) over the LLM's latency. With more conversations than slots, the
overhead includes the wait in the queue. The memory run prints the workers' RSS first, last and
highest, and its slope by least squares over the whole run and over its second half (after warm-up
effects): a leak shows as a slope that stays positive.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from bench import machine
from bench.e2e import HEADER, MB, Load, Stack, report, row


def processes(stack: Stack, args: argparse.Namespace) -> None:
    """1, 2 and 4 worker processes of the same slots, with a conversation for every slot."""
    print(f"worker processes grow   [{machine.describe(load=True)}]\n{HEADER}", flush=True)
    for workers in (1, 2, 4):
        load = Load(workers * args.concurrency, args.concurrency, workers, args.llm_latency, args.duration, args.warmup)
        print(row(stack.run(load)), flush=True)


def conversations(stack: Stack, args: argparse.Namespace) -> None:
    """10, 100 and 1000 conversations against the same workers."""
    print(f"conversations grow   [{machine.describe(load=True)}]\n{HEADER}", flush=True)
    for count in (10, 100, 1000):
        load = Load(count, args.concurrency, args.workers, args.llm_latency, args.duration, args.warmup)
        print(row(stack.run(load)), flush=True)


def memory(stack: Stack, args: argparse.Namespace) -> None:
    """A long steady run: the workers' RSS every 10 s, and whether it keeps growing."""
    load = Load(args.workers * args.concurrency, args.concurrency, args.workers, args.llm_latency, args.minutes * 60,
                args.warmup, sample_every=10)
    result = stack.run(load)
    report("memory over time", result)
    rss = [(seconds / 60, sample["rss"] / MB) for seconds, sample in result.series]
    print(f"  RSS (MB)    first {rss[0][1]:.1f}, last {rss[-1][1]:.1f}, highest {max(mb for _, mb in rss):.1f}; "
          f"slope {slope(rss):+.3f} MB/min over the run, {slope(rss[len(rss) // 2:]):+.3f} MB/min over its second half")
    print("  samples     " + " ".join(f"{mb:.1f}" for _, mb in rss), flush=True)


def slope(points: list[tuple[float, float]]) -> float:
    """The least-squares slope of y over x."""
    n = len(points)
    mean_x, mean_y = sum(x for x, _ in points) / n, sum(y for _, y in points) / n
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread if spread else 0.0


def arguments() -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=16, help="WORKER_CONCURRENCY: slots per worker process")
    parser.add_argument("--workers", type=int, default=2, help="worker processes while conversations grow, and in --memory")
    parser.add_argument("--llm-latency", type=float, default=0.5, help="seconds the fake LLM takes per completion")
    parser.add_argument("--duration", type=float, default=15, help="seconds measured per run, after the warm-up")
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--memory", action="store_true", help="instead: the long memory run")
    parser.add_argument("--minutes", type=float, default=10, help="how long the memory run lasts")
    return parser.parse_args()


def main() -> None:
    """Run the scaling series, or the memory run, and print the figures."""
    args = arguments()
    with Stack(Path(tempfile.mkdtemp(prefix="bench-scale-"))) as stack:  # the workers' logs are kept there
        if args.memory:
            memory(stack, args)
        else:
            processes(stack, args)
            conversations(stack, args)
        print(f"worker logs: {stack.logs}")


if __name__ == "__main__":
    main()
