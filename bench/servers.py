"""Processes the benches start on 127.0.0.1: a throwaway Redis, the Procfile's web and worker commands.

    with redis_server() as url, web_server(PROCFILE_APP, {"REDIS_URL": url}) as port:
        worker = spawn([sys.executable, "-m", "flask", "--app", "app", "worker"], env)
        ...  # POST to http://127.0.0.1:{port}/
        stop(worker)

Each runs in its own process group, so stopping it stops its children too (gunicorn's workers).
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator, Mapping

from bot.worker.local import free_port, redis_server_binary

ROOT = Path(__file__).resolve().parent.parent
PROCFILE_APP = '"app:create_app()"'  # what the Procfile's web line serves: the app's factory, called by gunicorn


@contextmanager
def redis_server() -> Iterator[str]:
    """A redis-server without persistence on a free port; yields its URL."""
    port = free_port()
    command = [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
               "--maxclients", "10000"]
    process = spawn(command)
    try:
        wait_for_port(port, process)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop(process)


@contextmanager
def web_server(app: str, env: Mapping[str, str], access_log: bool = False, log: IO | None = None) -> Iterator[int]:
    """The Procfile's `web` command serving `app` (such as PROCFILE_APP) on a free port, once it answers HTTP; its output
    goes to `log`, if given."""
    port = free_port()
    environ = {**env, "HOST": "127.0.0.1", "PORT": str(port)}
    process = spawn(["sh", "-c", f"exec {web_command(app, access_log)}"], environ, log)
    try:
        wait_for_port(port, process)
        _wait_for_http(port, process)
        yield port
    finally:
        stop(process)


def web_command(app: str = PROCFILE_APP, access_log: bool = False) -> str:
    """The Procfile's `web` line serving `app`; without its access log unless asked (benches measure the app)."""
    command = procfile()["web"]
    if not access_log:
        command = command.replace(" --access-logfile -", "")
    return command.replace(PROCFILE_APP, app, 1)


def procfile() -> dict[str, str]:
    """The Procfile's entries by name."""
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if ": " in line)


def spawn(command: list[str], env: Mapping[str, str] | None = None, log: IO | None = None) -> subprocess.Popen:
    """Start `command` from the project's root in a process group of its own, with this venv's scripts on PATH."""
    environ = {**os.environ, **(env or {})}
    environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environ.get('PATH', '')}"  # our gunicorn, our flask
    output = log or subprocess.DEVNULL
    return subprocess.Popen(command, env=environ, cwd=ROOT, stdout=output, stderr=output, start_new_session=True)


def stop(process: subprocess.Popen, timeout: float = 30.0) -> None:
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


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 30.0) -> None:
    """Return once something listens on `port`; exit if `process` dies or the time runs out first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"{' '.join(map(str, process.args))} did not listen on port {port}")


def _wait_for_http(port: int, process: subprocess.Popen, timeout: float = 30.0) -> None:
    """gunicorn listens before its workers have imported the app: wait for a first answer, any status."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        try:
            connection.request("GET", "/healthz")
            connection.getresponse().read()
            return
        except OSError:
            time.sleep(0.05)
        finally:
            connection.close()
    raise SystemExit(f"the web server on port {port} never answered")


def memory(pid: int) -> dict[str, int]:
    """A process's resident memory in bytes: rss, pss (shared pages split among their users) and uss (its own pages)."""
    fields: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, value = line.split(":", 1)
        fields[name] = int(value.split()[0]) * 1024  # kB
    return {"rss": fields["Rss"], "pss": fields["Pss"], "uss": fields["Private_Clean"] + fields["Private_Dirty"]}


def local_ports_to(pid: int, port: int) -> set[int]:
    """The local ports of the process's TCP connections to `port` on this machine (e.g. its Redis connections)."""
    inodes = _socket_inodes(pid)
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            columns = row.split()  # sl, local address, remote address, ..., inode (10th)
            if columns[9] in inodes and int(columns[2].rsplit(":", 1)[1], 16) == port:
                ports.add(int(columns[1].rsplit(":", 1)[1], 16))
    return ports


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            link = os.readlink(fd)
        except OSError:  # closed meanwhile
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    return inodes


def cpu_seconds(root: int) -> dict[int, float]:
    """CPU seconds (user + system) used so far by `root` and each of its descendants, by pid."""
    table = _processes()
    return {pid: table[pid][1] for pid in descendants(root, table)}


def descendants(root: int, table: dict[int, tuple[int, float]] | None = None) -> set[int]:
    """`root` and every process under it (children, theirs, ...)."""
    parents = {pid: parent for pid, (parent, _) in (table or _processes()).items()}
    family, frontier = {root}, {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier and pid not in family}
        family |= frontier
    return family & (parents.keys() | {root})


def _processes() -> dict[int, tuple[int, float]]:
    """Every process's parent pid and CPU seconds so far."""
    table = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
        except OSError:  # exited meanwhile
            continue
        table[int(stat.parent.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"))
    return table
