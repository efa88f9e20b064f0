"""The shape of the code: modules that import one another in no circle and each on its own, nothing built at import."""

from __future__ import annotations

import ast
import gc
import os
import re
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT

PACKAGES = ("bot", "handlers")


def modules() -> dict[str, Path]:
    """Every module of bot/ and handlers/, and app.py, by dotted name."""
    paths = [path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))] + [ROOT / "app.py"]
    named = {}
    for path in paths:
        parts = path.relative_to(ROOT).with_suffix("").parts
        named[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return named


def imported(path: Path, known: set[str]) -> set[str]:
    """The known modules a module imports as it loads: not those imported for annotations only, nor inside functions."""
    found: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                found.update([node.module, *(f"{node.module}.{alias.name}" for alias in node.names)])
            elif isinstance(node, (ast.If, ast.Try)):
                visit(node.body + node.orelse + [line for handler in getattr(node, "handlers", []) for line in handler.body])

    visit(ast.parse(path.read_text(encoding="utf-8")).body)
    return found & known


def cycle(graph: dict[str, set[str]]) -> list[str]:
    """One circle of imports in the graph, or []."""
    done: set[str] = set()

    def walk(name: str, path: list[str]) -> list[str]:
        if name in path:
            return path[path.index(name):] + [name]
        if name in done:
            return []
        for other in sorted(graph[name]):
            if found := walk(other, [*path, name]):
                return found
        done.add(name)
        return []

    return next((found for name in sorted(graph) if (found := walk(name, []))), [])


def test_no_module_imports_itself_through_others():
    named = modules()
    graph = {name: imported(path, set(named)) - {name} for name, path in named.items()}
    assert cycle(graph) == []


def test_the_cycle_check_finds_a_circle():
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]


def test_every_module_imports_on_its_own():
    """Each in a fresh set of the bot's modules, so that none works only because another was imported first."""
    script = (
        "import importlib, sys\n"
        "failed = []\n"
        f"for name in {sorted(modules())!r}:\n"
        f"    for loaded in [m for m in sys.modules if m == 'app' or m.split('.')[0] in {PACKAGES!r}]:\n"
        "        del sys.modules[loaded]\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception as error:\n"
        "        failed.append(f'{name}: {error!r}')\n"
        "print('\\n'.join(failed))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "", result.stdout + result.stderr


def test_importing_the_app_module_builds_no_app():
    script = "import flask, app; print([name for name, value in vars(app).items() if isinstance(value, flask.Flask)])"
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "[]" and "platforms enabled" not in result.stderr, result.stderr


@pytest.fixture
def unfrozen():
    """Freezing moves this process's objects out of the collector's sight: moved back after the test."""
    yield
    gc.unfreeze()


def test_a_web_process_freezes_what_it_built_once_its_app_is_built(unfrozen):
    before = gc.get_freeze_count()
    runpy.run_path(str(ROOT / "gunicorn.conf.py"))["post_worker_init"](object())
    assert gc.get_freeze_count() > before


def test_the_worker_process_freezes_what_it_built_before_taking_turns(settings):
    script = ("import gc; from app import create_app\n"
              "result = create_app().test_cli_runner().invoke(args=['worker', '--burst'])\n"
              "print(result.exit_code, gc.get_freeze_count() > 0)")
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={**os.environ, **settings})
    assert result.stdout.split()[-2:] == ["0", "True"], result.stdout + result.stderr


def test_every_section_of_docs_platforms_md_the_code_cites_is_there():
    """Comments cite the platforms' contracts as `docs/platforms.md section 3` or `docs/platforms.md 10.6`."""
    headings = set(re.findall(r"^#{2,3} (\d+(?:\.\d+)?)\.? ", (ROOT / "docs" / "platforms.md").read_text(), re.M))
    code = [path for package in (*PACKAGES, "tests") for path in (ROOT / package).rglob("*.py")]
    cited = {number for path in code
             for numbers in re.findall(r"docs/platforms\.md (?:sections? )?(\d+(?:\.\d+)?(?:(?:, | and )\d+(?:\.\d+)?)*)",
                                       path.read_text(encoding="utf-8"))
             for number in re.split(r", | and ", numbers)}
    assert cited and cited <= headings, sorted(cited - headings)
