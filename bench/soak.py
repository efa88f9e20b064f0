"""Soak: thousands of messages over hundreds of conversations, under faults, then the promise checked.

    .venv/bin/python -m bench.soak                  # 3000 messages, 4 workers x 4 turns, 6 + 3 kills, a Redis restart
    .venv/bin/python -m bench.soak --conversations 50 --messages 10

Traffic goes only to 127.0.0.1: a real web server and real workers, with local fakes of the LLM
and Telegram that fail on purpose. Workers are SIGKILLed at random moments (not only mid-LLM
call, as in the CI test), so a kill may land between a part reaching Telegram and its delivered
mark: the one window where a part can be sent twice. The report counts it. Three more kills land the
moment a worker's turn asks the LLM, before the turn's first lease renewal, and 5 % of sends are taken
by Telegram but answered after PLATFORM_TIMEOUT: neither may lose or duplicate a reply.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from tests import loopback
from tests.scenario import Plan, Scenario


def main() -> None:
    """Run the soak and print its figures; exit 1 if the promise did not hold."""
    loopback.install()  # what it starts reaches only 127.0.0.1, as in the tests
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--messages", type=int, default=15)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=4, help="turns per worker process")
    parser.add_argument("--kills", type=int, default=6)
    parser.add_argument("--young-kills", type=int, default=3, help="kills of a worker whose turn has just started")
    parser.add_argument("--late-sends", type=float, default=0.05, help="share of sends answered after PLATFORM_TIMEOUT")
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()
    os.environ.setdefault("LOG_LEVEL", "WARNING")  # the report, not every request, is what to read
    plan = Plan(conversations=args.conversations, messages=args.messages, workers=args.workers,
                concurrency=args.concurrency, kills=args.kills, young_kills=args.young_kills, late_sends=args.late_sends,
                safe_kills=False, redis_restart=True, timeout=args.timeout, duplicates=0.3)
    with tempfile.TemporaryDirectory() as workdir:
        report = Scenario(plan, Path(workdir)).run()
    print("\n".join(report.lines()))
    sys.exit(0 if report.holds else 1)


if __name__ == "__main__":
    main()
