"""The orgs and jobs modules in layers. Within jobs, the Celery tasks call
down into the run workflow (jobs.execution) and the services, and the
services send a job's task through jobs.dispatch by name, so they never
import either back. (Imports hidden in functions, and the app layers, are
tests/test_layering.py's, for the whole project.)"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
UPPER = {"jobs.tasks", "jobs.execution", "jobs.reporter"}


def _modules(*folders):
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path


def _imported(node) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.module:
        return [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
    return []


def test_the_services_never_import_the_tasks_or_the_run_workflow():
    for path in [*_modules("jobs/services"), ROOT / "jobs/dispatch.py"]:
        names = {name for node in ast.walk(ast.parse(path.read_text())) for name in _imported(node)}
        assert not names & UPPER, f"{path.relative_to(ROOT)} imports {sorted(names & UPPER)}"
