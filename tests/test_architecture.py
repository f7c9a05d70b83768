"""The shape of the house (docs/architecture.md): no import cycle, and no import across a layer's boundary.

Every module under `mobilize/`, `workers/` and `config/` is parsed with `ast` (nothing is imported) and every
import statement counts: at the top, inside functions (a deferred import is still a dependency, and deferring one
is how cycles hide) and under `if TYPE_CHECKING:`. The granularity is the module: an edge goes from the importing
module to the most specific project module it names (`from mobilize.wartime import audit` is an edge to
`mobilize.wartime.audit`), and to that module's parent packages, since Python runs their `__init__` first; a
module's own parent packages are not counted (Python imports them before the module itself, whatever it says).
Dynamic imports (`importlib.import_module`, the dotted job paths RQ resolves) are not seen; the job paths are
checked below.
"""
from __future__ import annotations

import ast
import importlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("mobilize", "workers", "config")

# Entry points that start workers and schedulers or run the job bodies themselves (docs/architecture.md):
# the CLI (`mobilize worker`, `mobilize scheduler`), the drill (the jobs on a simulated clock, or the live stack),
# the supervisor (`mobilize up` starts worker processes).
JOB_RUNNERS = ("mobilize.cli", "mobilize.drill", "mobilize.supervisor")
SERVICES = ("mobilize.wartime", "mobilize.peacetime", "mobilize.registry", "mobilize.sms", "mobilize.conversation")
WEB_FRAMEWORK = ("flask", "flask_babel", "flask_wtf", "apiflask", "werkzeug")


@dataclass(frozen=True)
class Rule:
    """Modules under `importers` (minus `exempt`) may not import anything under `forbidden` (minus `allowed`)."""

    why: str
    importers: tuple[str, ...]
    forbidden: tuple[str, ...]
    exempt: tuple[str, ...] = ()
    allowed: tuple[str, ...] = ()


RULES = (
    Rule("background work goes through the jobs door (mobilize.jobs); only workers/ and the job runners touch "
         "RQ or a job body", importers=("mobilize", "config"), forbidden=("workers", "rq"),
         exempt=("mobilize.jobs", *JOB_RUNNERS)),
    Rule("the domain works on plain values: no models, database, web framework, Redis or RQ",
         importers=("mobilize.domain",),
         forbidden=("mobilize", "workers", "config", "sqlalchemy", "alembic", "redis", "rq", *WEB_FRAMEWORK),
         allowed=("mobilize.domain",)),
    Rule("the models sit below the services and know only the domain and the database base",
         importers=("mobilize.models", "mobilize.db"), forbidden=("mobilize", "workers", "redis", "rq"),
         allowed=("mobilize.models", "mobilize.db", "mobilize.domain")),
    Rule("services do not know the web, the CLI or the drill that sit on top of them",
         importers=SERVICES + ("mobilize.runtime", "mobilize.jobs", "mobilize.live", "mobilize.accounts"),
         forbidden=("mobilize.web", "mobilize.cli", "mobilize.app", "mobilize.drill", *WEB_FRAMEWORK),
         exempt=("mobilize.sms.simulator",)),  # the simulator is a program of its own (a Flask app)
    Rule("settings are the bottom layer", importers=("config",), forbidden=("mobilize", "workers")),
)


# --- the checker ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Import:
    importer: str
    name: str  # the imported module as written, made absolute (`rq.job`, `mobilize.wartime.audit`)
    path: Path
    line: int

    def where(self, root: Path) -> str:
        return f"{self.path.relative_to(root)}:{self.line}"


def under(name: str, prefixes: Iterable[str]) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


def find_modules(root: Path, packages: Iterable[str]) -> dict[str, Path]:
    modules = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> list[Import]:
    """Every import statement in the file, wherever it is (top, function, class, TYPE_CHECKING block)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [Import(module, alias.name, path, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:  # `from pkg import sub` imports the module pkg.sub when there is one
                name = f"{base}.{alias.name}"
                found.append(Import(module, name if name in modules else base, path, node.lineno))
    return found


def project_targets(imported: Import, modules: dict[str, Path]) -> list[str]:
    """The project modules an import runs: the most specific one it names and that one's parent packages, less
    the importer's own parents (already imported before it)."""
    own = {imported.importer.rsplit(".", depth)[0] for depth in range(1, imported.importer.count(".") + 1)}
    name, targets = imported.name, []
    while name:
        if name in modules and name not in own and name != imported.importer:
            targets.append(name)
        name = name.rpartition(".")[0]
    return targets


def import_graph(root: Path, packages: Iterable[str]) -> tuple[dict[str, dict[str, Import]], list[Import]]:
    """The edges between project modules (each with the first import that makes it) and every import."""
    modules = find_modules(root, packages)
    graph: dict[str, dict[str, Import]] = {module: {} for module in modules}
    everything = []
    for module, path in modules.items():
        for imported in imports_of(module, path, modules):
            everything.append(imported)
            for target in project_targets(imported, modules):
                graph[module].setdefault(target, imported)
    return graph, everything


def strongly_connected(graph: dict[str, dict[str, Import]]) -> list[list[str]]:
    """Tarjan's algorithm, iteratively; components of more than one module (an import of oneself is no edge)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph[successor]))))
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        components.append(sorted(component))
    return components


def one_cycle(graph: dict[str, dict[str, Import]], component: list[str]) -> list[str]:
    """A shortest cycle through the component's first module (breadth first, inside the component)."""
    start, members = component[0], set(component)
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for successor in sorted(graph[node]):
                if successor == start:
                    cycle = [node]
                    while cycle[-1] != start:
                        cycle.append(previous[cycle[-1]])
                    return [start, *reversed(cycle[:-1]), start]
                if successor in members and successor not in previous:
                    previous[successor] = node
                    following.append(successor)
        frontier = following
    raise AssertionError(f"no cycle in {component}")


def cycle_problems(root: Path, packages: Iterable[str]) -> list[str]:
    graph, _ = import_graph(root, packages)
    problems = []
    for component in strongly_connected(graph):
        cycle = one_cycle(graph, component)
        steps = " → ".join(f"{a} ({graph[a][b].where(root)})" for a, b in zip(cycle, cycle[1:]))
        problems.append(f"import cycle: {steps} → {cycle[0]}"
                        + (f" (the cycle's modules: {', '.join(component)})" if len(component) > len(cycle) - 1
                           else ""))
    return problems


def rule_problems(root: Path, packages: Iterable[str], rules: Iterable[Rule]) -> list[str]:
    _, everything = import_graph(root, packages)
    problems = []
    for rule in rules:
        for imported in everything:
            if (under(imported.importer, rule.importers) and not under(imported.importer, rule.exempt)
                    and under(imported.name, rule.forbidden) and not under(imported.name, rule.allowed)):
                problems.append(f"forbidden import: {imported.where(root)} → {imported.name} ({rule.why})")
    return list(dict.fromkeys(problems))  # `from x import a, b` is one problem, not two


def report(problems: list[str]) -> str:
    return f"{len(problems)} problem(s) with the layers (docs/architecture.md):\n" + "\n".join(problems)


# --- the project ----------------------------------------------------------------------------------------------

def test_no_import_cycle_in_the_project() -> None:
    problems = cycle_problems(ROOT, PACKAGES)
    assert not problems, report(problems)


def test_no_import_crosses_a_layer_boundary() -> None:
    problems = rule_problems(ROOT, PACKAGES, RULES)
    assert not problems, report(problems)


def test_the_checker_sees_the_whole_project() -> None:
    """Guards the test itself: a wrong root or a parser that skips function bodies would pass vacuously."""
    graph, everything = import_graph(ROOT, PACKAGES)
    assert {"mobilize.jobs", "mobilize.conversation", "workers.sms", "config", "mobilize.web.ui.pages"} <= set(graph)
    assert len(graph) > 150
    deferred = [i for i in everything if i.importer == "mobilize.runtime" and i.name == "mobilize.jobs"]
    assert deferred, "the runtime's deferred import of the jobs door is an edge"


def test_every_job_name_leads_to_a_job_body_in_workers() -> None:
    from mobilize import jobs

    for name, path in jobs.JOBS.items():
        module, _, function = path.rpartition(".")
        assert module.startswith("workers."), (name, path)
        assert callable(getattr(importlib.import_module(module), function, None)), f"{name}: no {path}"
    with pytest.raises(jobs.UnknownJob):
        jobs.job_path("sms.no_such_job")


# --- the checker catches what it should (so that the tests above cannot pass for nothing) ---------------------

def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tmp_path


def test_the_checker_finds_a_cycle_hidden_in_a_function(tmp_path: Path) -> None:
    root = _package(tmp_path, {
        "app/__init__.py": "",
        "app/router.py": "from app.handlers import handle\n",
        "app/handlers.py": "def handle():\n    from app.router import Exchange  # deferred\n",
        "app/base.py": "",
        "app/fine.py": "from app import base\nfrom . import base as again\n",
    })
    [problem] = cycle_problems(root, ["app"])
    assert "app.handlers (app/handlers.py:2) → app.router (app/router.py:1) → app.handlers" in problem


def test_the_checker_counts_a_parent_package_but_not_ones_own(tmp_path: Path) -> None:
    root = _package(tmp_path, {
        "app/__init__.py": "def create():\n    from app.web import views\n",
        "app/web/__init__.py": "from app.web import views  # a package assembling its own modules is no cycle\n",
        "app/web/views.py": "from app.web import helpers\nfrom app.services import orders\n",
        "app/web/helpers.py": "",
        "app/services/__init__.py": "def start():\n    from app.web.views import page\n",
        "app/services/orders.py": "",
    })
    [problem] = cycle_problems(root, ["app"])  # views → services.orders runs services/__init__ → views
    assert "app.services (app/services/__init__.py:2) → app.web.views" in problem


def test_the_checker_finds_forbidden_imports(tmp_path: Path) -> None:
    root = _package(tmp_path, {
        "app/__init__.py": "",
        "app/web/__init__.py": "",
        "app/web/views.py": "import os\n\ndef queue():\n    from rq import Queue\n    import workers.sms\n",
        "app/jobs.py": "from rq import Queue\n",
        "app/domain/__init__.py": "",
        "app/domain/states.py": "from app.domain import other\nfrom app.models.orders import State\n"
                                "from sqlalchemy import select\n",
        "app/domain/other.py": "",
        "app/models/__init__.py": "",
        "app/models/orders.py": "",
    })
    rules = (Rule("door", importers=("app",), forbidden=("rq", "workers"), exempt=("app.jobs",)),
             Rule("pure", importers=("app.domain",), forbidden=("app", "sqlalchemy"), allowed=("app.domain",)))
    problems = rule_problems(root, ["app"], rules)
    assert problems == [
        "forbidden import: app/web/views.py:4 → rq (door)",
        "forbidden import: app/web/views.py:5 → workers.sms (door)",
        "forbidden import: app/domain/states.py:2 → app.models.orders (pure)",
        "forbidden import: app/domain/states.py:3 → sqlalchemy (pure)",
    ]
