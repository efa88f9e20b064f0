"""Streamed replies end to end: time from the webhook to the first visible text, and to the whole reply, on and off.

    /work/main/.venv/bin/python -m bench.streaming        # 32 conversations, 1 worker x 32 slots, a model that takes
                                                          # 500 ms to its first token, then 50 tokens/s for 60 tokens
    /work/main/.venv/bin/python -m bench.streaming --first-token 1 --tokens-per-second 30 --duration 30

The stack is bench/e2e.py's (Redis, gunicorn, real workers, Telegram private chats), with a fake LLM that streams
(server-sent chunks after `--first-token` seconds, `--tokens-per-second` apart) when asked to, and otherwise answers
whole after the same total time. The first visible text is the first sendMessageDraft the fake Telegram gets for the
message, or the reply itself when none came first. STREAMING=1 and STREAMING=0 run one after the other on one stack.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench import e2e, machine
from tests import streams
from tests.fakes import Call, Canned, completion


class StreamingLLM(e2e.PacedLLM):
    """A model that takes `first_token` seconds to start, then writes `tokens` words at `tokens_per_second`."""

    first_token, tokens_per_second, tokens = 0.5, 50.0, 60

    def respond(self, call: Call) -> Canned:
        started, writing = time.monotonic(), self.tokens / self.tokens_per_second
        body = completion(self.default_text(call.body["messages"]) + " " + " ".join(["word"] * self.tokens))
        found = e2e.TAG.search(call.body["messages"][-1]["content"])
        if self.traffic is not None and found:
            self.traffic.llm_answered(int(found[1]), started, started + self.first_token + writing)
        if call.body.get("stream"):  # its few more events than words paced to end when the whole answer would
            events = streams.chat_events(body, usage=True)
            return Canned(events=events, delay=self.first_token, pace=writing / len(events))
        time.sleep(self.first_token + writing)
        return Canned(body=body)


class DraftTelegram(e2e.CountingTelegram):
    """The fake Telegram, telling the traffic of each draft too."""

    def respond(self, call: Call) -> Canned:
        if call.method == "sendMessageDraft" and self.traffic is not None:
            self.traffic.drafted(int(call.body["chat_id"]), time.monotonic())
        return super().respond(call)


class Visible(e2e.Traffic):
    """The closed-loop traffic, timing also when each reply first shows, and counting its drafts."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.first: dict[int, float] = {}  # chat -> when the reply in flight first showed
        self.drafts = Counter[int]()  # chat -> drafts of the reply in flight
        self.times: list[tuple[float, float, int]] = []  # (to first text, to the reply, drafts), seconds from the webhook

    def drafted(self, chat: int, at: float) -> None:
        if chat in self.in_flight:
            self.first.setdefault(chat, at)
            self.drafts[chat] += 1

    def replied(self, chat: int, text: str, at: float) -> None:
        exchange = self.in_flight.get(chat)
        first, drafts = self.first.pop(chat, at), self.drafts.pop(chat, 0)
        if exchange is not None and self.recording and exchange.tag in text:
            self.times.append((first - exchange.posted, at - exchange.posted, drafts))
        super().replied(chat, text, at)


class StreamingStack(e2e.Stack):
    llm_type, telegram_type, traffic_type = StreamingLLM, DraftTelegram, Visible


def ms(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] * 1000 if len(values) > 1 else float("nan")


def row(streaming: str, result: e2e.Result, traffic: Visible) -> str:
    """One run's figures: first visible text and whole reply, p50 and p99, and the drafts per reply."""
    first, whole, drafts = ([sample[n] for sample in traffic.times] for n in range(3))
    return (f"  STREAMING={streaming}  first text p50 {ms(first, 50):6.0f} ms, p99 {ms(first, 99):6.0f} ms;  "
            f"whole reply p50 {ms(whole, 50):6.0f} ms, p99 {ms(whole, 99):6.0f} ms;  "
            f"drafts per reply {statistics.fmean(drafts) if drafts else 0:.1f} (at most {max(drafts, default=0)});  "
            f"{result.throughput:.1f} turns/s, {len(traffic.times)} replies, errors {dict(result.errors) or 'none'}")


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=32)
    parser.add_argument("--concurrency", type=int, default=32, help="WORKER_CONCURRENCY of the one worker process")
    parser.add_argument("--first-token", type=float, default=0.5, help="seconds to the model's first token")
    parser.add_argument("--tokens-per-second", type=float, default=50.0)
    parser.add_argument("--tokens", type=int, default=60, help="words in each reply")
    parser.add_argument("--duration", type=float, default=20, help="seconds measured per run, after the warm-up")
    parser.add_argument("--warmup", type=float, default=5)
    return parser.parse_args()


def main() -> None:
    """STREAMING on, then off, on one stack; the figures side by side."""
    args = arguments()
    with StreamingStack(Path(tempfile.mkdtemp(prefix="bench-streaming-"))) as stack:
        llm = stack.llm
        llm.first_token, llm.tokens_per_second, llm.tokens = args.first_token, args.tokens_per_second, args.tokens
        latency = args.first_token + args.tokens / args.tokens_per_second
        load = e2e.Load(args.conversations, args.concurrency, 1, latency, args.duration, args.warmup)
        print(f"{load.label()}; first token {args.first_token * 1000:.0f} ms, {args.tokens} tokens at "
              f"{args.tokens_per_second:g}/s   [{machine.describe(load=True)}]", flush=True)
        for streaming in ("1", "0"):
            stack.env["STREAMING"] = streaming
            result = stack.run(load)
            print(row(streaming, result, stack.measured), flush=True)
        print(f"worker logs: {stack.logs}")


if __name__ == "__main__":
    main()
