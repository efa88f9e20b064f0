"""The RQ jobs and queues of the bot by name, and how long RQ keeps their jobs: the web side enqueues what the worker
side runs, so this module imports nothing of the bot's, and both import it."""

from __future__ import annotations

# RQ stores a job's function as this dotted path: the web process enqueues it without importing the worker's modules.
TURN = "bot.turn.job.run"  # answer a conversation's waiting messages, on the queue QUEUE_NAME names
SEND_SCHEDULED = "bot.outbound.proactive.send_scheduled"  # queue a proactive message at its time
DELIVER_EVENT = "bot.outbound.events.deliver"  # POST one outbound event to one URL
BUSINESS_EVENT = "bot.outbound.business.route.handle"  # give one business event (Stripe, Shopify, ...) its outcome
EVENTS_QUEUE = "events"

# How long RQ keeps the bot's jobs: a finished one a minute (deleting it at once costs the worker nine more
# Redis round trips a job), a failed one a week, for an operator to see and requeue.
JOB_KEEP = {"result_ttl": 60, "failure_ttl": 7 * 86400}
