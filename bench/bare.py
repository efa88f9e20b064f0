"""Reference apps for bench.ingest, served by the same gunicorn settings as the real one.

`bare`: answers 200 to the webhook POST and does nothing else, the ceiling of Flask + gunicorn here.
`naive`: what a hobby bot does, one plain `rq.Queue.enqueue` per request, no dedupe or inbox.
"""

from __future__ import annotations

import os
from functools import cache

from flask import Flask, request
from redis import Redis
from rq import Queue

PATH = "/webhooks/telegram"

bare = Flask("bare")
naive = Flask("naive")


@bare.post(PATH)
def accept_nothing() -> dict:
    """The real app's answer, without any of its work."""
    return {"ok": True}


@naive.post(PATH)
def enqueue() -> dict:
    """One RQ job per message, its chat id the argument, as the real turn job's conversation is."""
    chat = request.get_json()["message"]["chat"]["id"]
    _queue().enqueue("bot.turn.job.run", f"telegram:{chat}", result_ttl=0)
    return {"ok": True}


@cache
def _queue() -> Queue:
    # Built on first use, in each gunicorn worker (no --preload): one connection pool per worker.
    return Queue("turns", connection=Redis.from_url(os.environ["REDIS_URL"]))
