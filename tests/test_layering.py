"""The apps sit in layers, and an import only goes down (architecture.md, "Layout").

Every project module (the apps' packages; not migrations, not tests, not
bench) is parsed, and each of its imports, at module level and inside
functions alike, is mapped to the app it reaches. The test fails on:

- an app-level import cycle;
- an upward import: an app importing one in a higher layer (a lower app that
  must react to a higher one offers a registry, ``core.hooks``, or a signal);
- an import inside a function that reaches another app, unless
  ``IN_FUNCTION_ALLOWED`` names it with its reason (an import hidden in a
  function to dodge a cycle is still a cycle);
- another app reaching into audit past its public face (``AUDIT_FACE``);
- an app module importing the project's wiring (``WIRING``).

Imports under ``if TYPE_CHECKING:`` are for annotations only and not counted.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Bottom first; an app may import its own layer's other apps and any lower one.
LAYERS = (
    ("config", "core", "realtime"),
    ("accounts",),
    ("audit",),
    ("orgs",),
    ("chatroom", "jobs"),
    # Statistics, metrics and the staff dashboard read every app below.
    ("ops",),
)
RANK = {app: rank for rank, apps in enumerate(LAYERS) for app in apps}
APPS = tuple(RANK)

# The project's wiring: the modules that put the apps together (settings,
# URL and socket routing, the ASGI application and its socket middleware, the
# demo data, the launcher). They name every app by design, so they sit above
# all of them, and no app module imports them.
WIRING = {
    "config.settings", "config.urls", "config.asgi", "config.routing", "config.socket_auth", "config.demo",
    "config.launcher",
    # The health view reports on every part (database, Redis, Celery, the
    # channel layer), so it sits above them like the urls that route to it.
    "config.health",
    # The home dashboard shows the user's chat and jobs together.
    "config.dashboard",
}

# What other apps may import from audit: its services, and the registry orgs
# fills. Only public names defined in those modules themselves.
AUDIT_FACE = {"audit.services", "audit.org_scope"}

# Imports inside a function that reach another app, each with why it is not a
# cycle dodge. Keep this list short.
IN_FUNCTION_ALLOWED: dict[str, str] = {}



@dataclass(frozen=True)
class Import:
    importer: str  # module name, e.g. "accounts.services"
    target: str  # the most specific project module it reaches, e.g. "audit.services"
    names: tuple[str, ...]  # for "from x import a, b": ("a", "b"); else ()
    in_function: bool
    where: str  # path:line

    @property
    def importer_app(self) -> str:
        return app_of(self.importer)

    @property
    def target_app(self) -> str:
        return app_of(self.target)


def app_of(module: str) -> str:
    return "wiring" if module in WIRING else module.split(".")[0]


def project_modules() -> dict[str, Path]:
    modules = {}
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if "migrations" in parts:
                continue
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports_of(module: str, path: Path, modules: dict[str, Path]) -> list[Import]:
    found: list[Import] = []
    is_package = path.name == "__init__.py"

    def target_of(name: str) -> str | None:
        # The longest prefix that is a project module: "audit.services.audit_record" -> "audit.services".
        parts = name.split(".")
        for end in range(len(parts), 0, -1):
            candidate = ".".join(parts[:end])
            if candidate in modules:
                return candidate
        return None

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for sub in child.orelse:
                    visit_one(sub, in_function)
                continue
            visit_one(child, in_function)

    def visit_one(node: ast.AST, in_function: bool) -> None:
        where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = target_of(alias.name)
                if target:
                    found.append(Import(module, target, (), in_function, where))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".") if is_package else module.split(".")[:-1]
                package = package[: len(package) - node.level + 1]
                base = ".".join(package + ([base] if base else []))
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                if submodule in modules:  # "from config import forms": the module config.forms
                    found.append(Import(module, submodule, (), in_function, where))
                elif target := target_of(base):
                    found.append(Import(module, target, (alias.name,), in_function, where))
        visit(node, in_function or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    visit(ast.parse(path.read_text(), filename=str(path)), False)
    return [i for i in found if i.target != module]


def all_imports() -> list[Import]:
    modules = project_modules()
    return [imp for module, path in modules.items() for imp in _imports_of(module, path, modules)]


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one app (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            connect(node)
    return components


def _rules_broken(imp: Import, modules: dict[str, Path]) -> list[str]:
    """The violation keys of one import. A key names the rule and the two
    modules, not a line number."""
    source, target = imp.importer_app, imp.target_app
    if source == target:
        return []
    edge = f"{imp.importer} -> {imp.target}"
    keys = []
    if target == "wiring":
        keys.append(f"imports the wiring: {edge}")
    elif source != "wiring" and RANK[target] > RANK[source]:
        keys.append(f"upward ({source} -> {target}): {edge}")
    if imp.in_function and source != "wiring" and edge not in IN_FUNCTION_ALLOWED:
        keys.append(f"in a function: {edge}")
    if target == "audit":
        if imp.target not in AUDIT_FACE:
            keys.append(f"past audit's face: {edge}")
        else:
            defined = _defined_names(modules[imp.target])
            keys += [f"past audit's face: {edge}.{name}" for name in imp.names
                     if name.startswith("_") or name not in defined]
    return keys


def violations(imports: list[Import], *, known=()) -> dict[str, list[str]]:
    """{violation key: [where it happens]}."""
    modules = project_modules()
    found: dict[str, list[str]] = {}
    edges: dict[str, set[str]] = {}
    for imp in imports:
        keys = _rules_broken(imp, modules)
        for key in keys:
            wheres = found.setdefault(key, [])
            if imp.where not in wheres:
                wheres.append(imp.where)
        source, target = imp.importer_app, imp.target_app
        # The app graph leaves out the wiring (it is above everything) and an
        # import whose every violation is already known, so that a known
        # upward import does not report its cycle a second time.
        if source != target and "wiring" not in (source, target) and not (keys and set(keys) <= set(known)):
            edges.setdefault(source, set()).add(target)
    for component in _cycles(edges):
        # One example import per app-to-app edge of the cycle.
        examples: dict[tuple[str, str], Import] = {}
        for i in imports:
            pair = (i.importer_app, i.target_app)
            if set(pair) <= set(component) and pair[0] != pair[1] and pair[1] in edges.get(pair[0], ()):
                examples.setdefault(pair, i)
        found[f"cycle: {' <-> '.join(component)}"] = [
            f"{a} -> {b} ({i.where} {i.importer} -> {i.target})" for (a, b), i in sorted(examples.items())]
    return found


def _defined_names(path: Path) -> set[str]:
    """Names a module defines itself at module level (not ones it imports)."""
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
    return names


# --------------------------------------------------------------------------- the tests


def test_the_layers_name_every_app_once():
    apps = {p.parent.name for p in ROOT.glob("*/apps.py")}
    assert apps | {"config"} == set(APPS), "a new app joins a layer in LAYERS"
    assert len(APPS) == len(set(APPS))


def test_imports_only_go_down_with_no_cycle_and_none_hidden_in_a_function():
    found = violations(all_imports())
    assert not found, "layering violations:\n" + "\n".join(
        f"  {k}\n      at {', '.join(w)}" for k, w in sorted(found.items()))


@pytest.mark.parametrize("module", ["config.api", "accounts.views"])
def test_a_module_importing_the_api_helpers_can_be_imported_first(module):
    """DRF reads REST_FRAMEWORK's default classes when rest_framework.views is
    first imported; a module it names must not import that back (the API's
    parser lives in config.parsers for this), or whichever module imports
    config.api first, before DRF is loaded, fails."""
    code = f"import django; django.setup(); import {module}"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"}
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]


def test_the_walker_sees_what_it_must():
    """The checker itself, on a made-up import graph."""
    def imp(importer, target, *, in_function=False, names=()):
        return Import(importer, target, names, in_function, f"{importer}:1")

    found = violations(known=(), imports=[
        imp("accounts.services", "chatroom.realtime", in_function=True),
        imp("chatroom.services", "accounts.models"),
        imp("orgs.services", "audit.chain", names=("content",)),
        imp("orgs.services", "audit.services", names=("_append",)),
        imp("jobs.api", "config.urls"),
    ])
    assert set(found) == {
        "upward (accounts -> chatroom): accounts.services -> chatroom.realtime",
        "in a function: accounts.services -> chatroom.realtime",
        "cycle: accounts <-> chatroom",
        "past audit's face: orgs.services -> audit.chain",
        "past audit's face: orgs.services -> audit.services._append",
        "imports the wiring: jobs.api -> config.urls",
    }
