"""`flask send-sample`: one correctly signed sample event, which each platform's adapter builds, POSTed to a running
instance, to test it with a single event before pointing a real platform at it."""

from __future__ import annotations

import click
import requests
from flask.cli import with_appcontext

from bot.runtime import app_runtime


@click.command("send-sample")
@with_appcontext
@click.argument("platform")
@click.option("--url", default="http://127.0.0.1:8000", show_default=True, help="The running instance.")
@click.option("--text", default="Hello from a sample event!", show_default=True)
def send_sample(platform: str, url: str, text: str) -> None:
    """POST one correctly signed sample event for PLATFORM to a running instance, and show its answer."""
    rt = app_runtime()
    if platform not in rt.channels:
        raise click.ClickException(f"{platform} is not enabled here: set its variables first")
    target = f"{url.rstrip('/')}/webhooks/{platform}"
    headers, body = rt.channels[platform].sample(target, text)
    response = requests.post(target, data=body, headers=headers, timeout=15)
    click.echo(f"{response.status_code} {response.text.strip()[:300]}")
    if not response.ok:
        raise SystemExit(1)
