"""Servers the benches start on 127.0.0.1: a throwaway Redis and the Procfile's web command.

    with redis_server() as url, web_server("app:app", {"REDIS_URL": url}) as port:
        ...  # POST to http://127.0.0.1:{port}/

Each runs in its own process group, so stopping it stops its children too (gunicorn's workers).
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Mapping

from bot.local import free_port, redis_server_binary

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def redis_server() -> Iterator[str]:
    """A redis-server without persistence on a free port; yields its URL."""
    port = free_port()
    command = [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    with _running(command, port):
        yield f"redis://127.0.0.1:{port}/0"


@contextmanager
def web_server(app: str, env: Mapping[str, str], access_log: bool = False) -> Iterator[int]:
    """The Procfile's `web` command serving `app` (such as "app:app") on a free port, once it answers HTTP."""
    port = free_port()
    command = web_command(app, access_log)
    environ = {**os.environ, **env, "HOST": "127.0.0.1", "PORT": str(port),
               "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}  # our gunicorn
    with _running(["sh", "-c", f"exec {command}"], port, environ, answers_http=True):
        yield port


def web_command(app: str = "app:app", access_log: bool = False) -> str:
    """The Procfile's `web` line, serving `app`; without its access log unless asked (the benches compare apps, not logging)."""
    lines = (ROOT / "Procfile").read_text().splitlines()
    command = dict(line.split(": ", 1) for line in lines if ": " in line)["web"]
    if not access_log:
        command = command.replace(" --access-logfile -", "")
    # gunicorn 27's control socket defaults to one path per user ($HOME/.gunicorn/gunicorn.ctl): several
    # masters at once (ours, another checkout's `make run`) would take it from each other. It serves no request.
    return command.replace("app:app", app, 1) + " --no-control-socket"


@contextmanager
def _running(command: list[str], port: int, env: Mapping[str, str] | None = None,
             answers_http: bool = False) -> Iterator[subprocess.Popen]:
    """Run `command` in its own process group until the block ends; its stderr is shown if it fails to start."""
    with tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=stderr,
                                   start_new_session=True)
        try:
            if not (_listens(port, process) and (not answers_http or _answers(port, process))):
                stderr.seek(0)
                tail = stderr.read().decode(errors="replace")[-2000:]
                raise SystemExit(f"{' '.join(process.args)} did not start on port {port}:\n{tail}")
            yield process
        finally:
            stop(process)


def stop(process: subprocess.Popen, timeout: float = 15.0) -> None:
    """SIGTERM the process's group (a graceful stop), SIGKILL it if it lingers."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
            process.wait(timeout=timeout)
            return
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


def _listens(port: int, process: subprocess.Popen, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def _answers(port: int, process: subprocess.Popen, timeout: float = 30.0) -> bool:
    """gunicorn listens before its workers have imported the app: wait for a first answer, any status."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        try:
            connection.request("GET", "/")
            connection.getresponse().read()
            return True
        except OSError:
            time.sleep(0.05)
        finally:
            connection.close()
    return False
