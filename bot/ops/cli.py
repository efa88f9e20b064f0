"""Operator commands: `flask --app app <command>`."""

from __future__ import annotations

import gc
import json

import click
from flask.cli import AppGroup, with_appcontext

from bot import times
from bot.ops import checks, deadletters, forget, ledger, rejects
from bot.outbound.business import records
from bot.runtime import app_runtime


@click.command("worker")
@click.option("--burst", is_flag=True, help="Exit once the queue is empty.")
@with_appcontext
def worker(burst: bool) -> None:
    """Run an RQ worker that answers conversations."""
    from bot.worker.process import work  # the web process never needs RQ's worker machinery

    gc.freeze()  # the app and the imports live as long as the process: why, in gunicorn.conf.py's post_worker_init
    work(app_runtime(), burst=burst)


@click.command("check")
@with_appcontext
def check() -> None:
    """Check configuration, prompts and Redis: the Procfile's release step."""
    rt = app_runtime()
    click.echo(checks.summary(rt))
    found = checks.problems(rt, warn=lambda line: click.echo(f"warning: {line}", err=True))
    for problem in found:
        click.echo(f"problem: {problem}", err=True)
    if found:
        raise SystemExit(1)
    click.echo("ok")


@click.command("outcome")
@click.argument("platform")
@click.argument("message_id")
@with_appcontext
def outcome(platform: str, message_id: str) -> None:
    """What happened to one message: PLATFORM and its MESSAGE_ID (Telegram's update_id, Slack's team:channel:ts, ...);
    for a business event, `events <source>:<id>`, with its payload while it is kept."""
    redis = app_runtime().redis
    record = ledger.lookup(redis, platform, message_id)
    event = records.kept(redis, message_id) if platform == records.LEDGER else None
    if record is None and event is None:
        raise click.ClickException("no outcome recorded: not received, still waiting for its turn, or older than 14 days")
    click.echo(json.dumps({**(record or {"outcome": None}), **({"event": event} if event else {})}, indent=2))


@click.command("rejects")
@click.option("--limit", default=10, show_default=True)
@with_appcontext
def rejected(limit: int) -> None:
    """Signed payloads refused for their shape: counts per platform, then the newest (secrets removed)."""
    redis = app_runtime().redis
    click.echo("refused: " + (", ".join(f"{name} {n}" for name, n in rejects.counts(redis).items()) or "none"))
    for record in rejects.newest(redis, limit):
        when = times.stamp(record["at"])
        click.echo(f"{when}  {record['platform']}  {record['reason']}\n  {record['body']}")


prompts = AppGroup("prompts", help="The prompt files in prompts/.")


@prompts.command("check")
def check_prompts() -> None:
    """Validate every prompt file (front matter, template, variables), tool file and rules file: the Procfile's release step."""
    rt = app_runtime()
    result = checks.prompts_check(rt)
    for warning in result["warnings"]:
        click.echo(f"warning: {warning}", err=True)
    for problem in result["problems"]:
        click.echo(f"problem: {problem}", err=True)
    if result["problems"]:
        raise SystemExit(1)
    click.echo(f"prompts ok: {rt.config.prompts_dir}/")


@click.command("forget")
@click.argument("conversation")
@with_appcontext
def forget_conversation(conversation: str) -> None:
    """Erase CONVERSATION (platform:id, as the ledger and /admin show it): history, ledger, dead letters, contact."""
    try:
        removed = forget.forget(app_runtime(), conversation)
    except forget.Busy as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Forgot {conversation}: " + ", ".join(f"{count} {kind}" for kind, count in removed.items()) + ".")


REASON_WIDTH = 100  # characters of a dead letter's reason in `list`: one line per letter

dead_letters = AppGroup("dead-letters", help="Turns that failed after every retry: list, show, replay, purge.")


@dead_letters.command("list")
@click.option("--limit", default=20, show_default=True)
def list_letters(limit: int) -> None:
    """The newest dead letters: id, when, conversation, why."""
    for letter in deadletters.newest(app_runtime().redis, limit):
        when = times.stamp(letter["at"])
        click.echo(f"{letter['id']}  {when}  {letter['conversation']}  {_one_line(letter['reason'], REASON_WIDTH)}")


def _one_line(text: str, width: int) -> str:
    """The text on one line, whitespace collapsed, cut to `width` characters with an ellipsis: `show` has it all."""
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 1].rstrip() + "…"


@dead_letters.command("show")
@click.argument("letter_id")
def show(letter_id: str) -> None:
    """One dead letter in full, its messages included."""
    click.echo(json.dumps(_letter(letter_id), indent=2))


@dead_letters.command("replay")
@click.argument("letter_id")
def replay(letter_id: str) -> None:
    """Put the dead letter's messages back into their conversation for a new turn, and forget the letter."""
    letter = deadletters.replay(app_runtime(), letter_id) or _letter(letter_id)  # none: _letter says so
    click.echo(f"Replayed {len(letter['messages'])} message(s) into {letter['conversation']}.")


@dead_letters.command("purge")
@click.argument("letter_id", required=False)
@click.option("--all", "everything", is_flag=True, help="Forget every dead letter.")
def purge(letter_id: str | None, everything: bool) -> None:
    """Forget one dead letter, or --all of them."""
    redis = app_runtime().redis
    if everything:
        click.echo(f"Purged {deadletters.purge(redis)} dead letter(s).")
    elif letter_id and deadletters.remove(redis, letter_id):
        click.echo(f"Purged {letter_id}.")
    else:
        raise click.UsageError("give a dead letter's id, or --all")


def _letter(letter_id: str) -> dict:
    letter = deadletters.get(app_runtime().redis, letter_id)
    if letter is None:
        raise click.ClickException(f"no dead letter {letter_id}: `flask --app app dead-letters list` shows their ids")
    return letter


COMMANDS = (worker, check, outcome, rejected, prompts, dead_letters, forget_conversation)
