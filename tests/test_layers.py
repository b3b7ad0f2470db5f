"""Architecture guard: the package's import graph, read with ``ast`` (nothing is imported).

Every ``.py`` file under core/motionprompt and core/motionprompt_demo is parsed; module-level
imports, lazy imports inside functions and ``importlib.import_module("literal")`` calls all count.
Rules:

1. a layer of ``motionprompt`` imports only the layers ``LAYERS`` allows it (and itself); every
   module belongs to a layer of the table; the library never imports ``motionprompt_demo``;
2. no import cycle between modules of ``motionprompt``;
3. no ``torch`` in the numpy-only layers (``NO_TORCH_LAYERS``);
4. no Blender modules (``bpy``, ``mathutils``, ``bpy_extras``) anywhere under core/.

A new layer (sub-package or top-level module) is one line in ``LAYERS``.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

import pytest

# --------------------------------------------------------------------------------------- the table

EVERYTHING = "*"

# layer of core/motionprompt -> the other layers of the package it may import.
# A layer is a sub-package or a top-level module; "__init__" and "__main__" are the package's own
# files (the public API). A layer listed here need not exist yet.
LAYERS: dict[str, set[str] | str] = {
    "atomic": set(),
    "body": {"atomic"},
    "text": {"atomic"},
    "postprocess": {"body", "atomic"},
    "request": {"postprocess", "body", "atomic"},
    "files": {"body", "atomic"},
    "models": {"text", "atomic"},
    "generation": {"models", "text", "body", "postprocess", "request", "atomic"},
    "app": EVERYTHING,
    "__init__": EVERYTHING,
    "__main__": EVERYTHING,
}

PACKAGE = "motionprompt"
DEMO_PACKAGE = "motionprompt_demo"
NO_TORCH_LAYERS = {"atomic", "body", "files", "text", "postprocess", "request"}
BLENDER_MODULES = {"bpy", "mathutils", "bpy_extras"}

REPO = Path(__file__).resolve().parents[1]
CORE = REPO / "core"


# --------------------------------------------------------------------------------------- the walker


@dataclass(frozen=True)
class Import:
    path: Path  # the importing file
    line: int
    source: str  # the importing module, e.g. "motionprompt.body.motion"
    target: str  # the absolute module imported; `from pkg import sub` targets "pkg.sub"
    text: str  # the statement as written
    lazy: bool  # inside a function: runs when called, not at import
    type_only: bool  # under `if TYPE_CHECKING:`: never runs

    def where(self, root: Path) -> str:
        kind = " (lazy)" if self.lazy else ""
        return f"{_rel(self.path, root)}:{self.line}: `{self.text}`{kind}"


@dataclass
class Tree:
    root: Path  # paths in messages are relative to this folder
    modules: dict[str, Path] = field(default_factory=dict)  # module name -> file
    packages: set[str] = field(default_factory=set)  # module names that are packages (__init__.py)
    imports: list[Import] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # imports that could not be resolved

    def known(self, name: str) -> str | None:
        """The longest prefix of ``name`` that is a module of the tree (None if none)."""
        parts = name.split(".")
        while parts:
            candidate = ".".join(parts)
            if candidate in self.modules:
                return candidate
            parts.pop()
        return None


def _rel(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def _module_name(path: Path, root: Path) -> tuple[str, bool]:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


def _resolve(module: str, is_package: bool, level: int, name: str | None) -> str | None:
    """``from <level dots><name> import ...`` written in ``module`` -> absolute name (None: beyond top)."""
    if level == 0:
        return name
    base = module.split(".") if is_package else module.split(".")[:-1]
    up = level - 1
    if up >= len(base):
        return None
    base = base[: len(base) - up]
    return ".".join(base + ([name] if name else []))


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _literal(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


class _Visitor(ast.NodeVisitor):
    def __init__(self, tree: Tree, path: Path, module: str, is_package: bool):
        self.tree, self.path, self.module, self.is_package = tree, path, module, is_package
        self.depth = 0  # function nesting
        self.type_only = 0

    # -- context
    def _function(self, node: ast.AST) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            self.visit(node.test)
            self.type_only += 1
            for child in node.body:
                self.visit(child)
            self.type_only -= 1
            for child in node.orelse:
                self.visit(child)
        else:
            self.generic_visit(node)

    # -- imports
    def _add(self, node: ast.AST, target: str) -> None:
        self.tree.imports.append(
            Import(
                path=self.path,
                line=node.lineno,
                source=self.module,
                target=target,
                text=ast.unparse(node),
                lazy=self.depth > 0,
                type_only=self.type_only > 0,
            )
        )

    def _problem(self, node: ast.AST, why: str) -> None:
        self.tree.problems.append(f"{_rel(self.path, self.tree.root)}:{node.lineno}: `{ast.unparse(node)}`: {why}")

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(node, alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = _resolve(self.module, self.is_package, node.level, node.module)
        if base is None:
            self._problem(node, "relative import beyond the top-level package")
            return
        for alias in node.names:
            sub = f"{base}.{alias.name}"
            # `from pkg import name`: an edge to the submodule when name is one, else to pkg itself
            self._add(node, sub if alias.name != "*" and sub in self.tree.modules else base)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
        if name in ("import_module", "__import__") and node.args:
            target = _literal(node.args[0])
            if target is not None:
                if target.startswith(".") and name == "import_module":
                    package_arg = node.args[1] if len(node.args) > 1 else None
                    for kw in node.keywords:
                        if kw.arg == "package":
                            package_arg = kw.value
                    package = _literal(package_arg)
                    if package is None and isinstance(package_arg, ast.Name):
                        package = {
                            "__package__": self.module if self.is_package else self.module.rpartition(".")[0],
                            "__name__": self.module,
                        }.get(package_arg.id)
                    level = len(target) - len(target.lstrip("."))
                    resolved = None if package is None else _resolve(package, True, level, target[level:] or None)
                    if resolved is None:
                        self._problem(node, "relative import_module whose package cannot be read")
                    else:
                        self._add(node, resolved)
                else:
                    self._add(node, target)
        self.generic_visit(node)


def walk(root: Path, packages: tuple[str, ...] = (PACKAGE, DEMO_PACKAGE), display: Path | None = None) -> Tree:
    """Parse every .py file of ``packages`` under ``root`` (the folder holding them)."""
    tree = Tree(root=display or root)
    files: list[Path] = []
    for package in packages:
        base = root / package
        if base.is_dir():
            files += sorted(p for p in base.rglob("*.py") if "__pycache__" not in p.parts)
    for path in files:
        name, is_package = _module_name(path, root)
        if is_package or name not in tree.packages:  # x/__init__.py shadows a sibling x.py, as in Python
            tree.modules[name] = path
        if is_package:
            tree.packages.add(name)
    for path in files:
        name, is_package = _module_name(path, root)
        syntax = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        _Visitor(tree, path, name, is_package).visit(syntax)
    return tree


def layer_of(module: str) -> str | None:
    """``motionprompt.body.motion`` -> "body"; ``motionprompt`` -> "__init__"; None outside the package."""
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return None
    return parts[1] if len(parts) > 1 else "__init__"


def _top(module: str) -> str:
    return module.split(".")[0]


# --------------------------------------------------------------------------------------- the checks


def unknown_layers(tree: Tree) -> list[str]:
    out = []
    for module, path in sorted(tree.modules.items()):
        layer = layer_of(module)
        if layer is not None and layer not in LAYERS:
            out.append(
                f"{_rel(path, tree.root)}: module {module} is in layer '{layer}', which is not in LAYERS "
                f"(tests/test_layers.py): add a line `\"{layer}\": {{...layers it may import...}},` to the table"
            )
    return out


def layer_violations(tree: Tree) -> list[str]:
    out = list(tree.problems)
    for imp in tree.imports:
        source, target = layer_of(imp.source), layer_of(imp.target)
        if source is None or target is None or source == target or source not in LAYERS:
            continue  # outside the package, same layer, or reported by unknown_layers
        if target not in LAYERS:
            out.append(f"{imp.where(tree.root)}: imports layer '{target}', which is not in LAYERS: add it to the table")
            continue
        allowed = LAYERS[source]
        if allowed != EVERYTHING and target not in allowed:
            out.append(
                f"{imp.where(tree.root)}: layer '{source}' imports layer '{target}' "
                f"(it may import only {sorted(allowed) or 'nothing of the package'})"
            )
    return out


def demo_imports_in_library(tree: Tree) -> list[str]:
    return [
        f"{imp.where(tree.root)}: the library imports {DEMO_PACKAGE}"
        for imp in tree.imports
        if _top(imp.source) == PACKAGE and _top(imp.target) == DEMO_PACKAGE
    ]


def torch_in_numpy_layers(tree: Tree) -> list[str]:
    return [
        f"{imp.where(tree.root)}: layer '{layer_of(imp.source)}' must stay torch-free"
        for imp in tree.imports
        if layer_of(imp.source) in NO_TORCH_LAYERS and _top(imp.target) == "torch"
    ]


def blender_imports(tree: Tree) -> list[str]:
    return [
        f"{imp.where(tree.root)}: core/ never imports Blender ({_top(imp.target)})"
        for imp in tree.imports
        if _top(imp.target) in BLENDER_MODULES
    ]


def import_graph(tree: Tree) -> dict[str, dict[str, list[Import]]]:
    """module -> imported module -> the imports making that edge (modules of the package only)."""
    graph: dict[str, dict[str, list[Import]]] = {m: {} for m in tree.modules if _top(m) == PACKAGE}
    for imp in tree.imports:
        if imp.type_only or imp.source not in graph:
            continue
        target = tree.known(imp.target)
        if target is None or target == imp.source or target not in graph:
            continue
        graph[imp.source].setdefault(target, []).append(imp)
    return graph


def find_cycles(graph: dict[str, dict[str, list[Import]]]) -> list[list[str]]:
    """One cycle (a list of modules, first not repeated) per strongly connected component of size > 1."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def strongconnect(v: str) -> None:  # Tarjan
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            strongconnect(v)

    cycles = []
    for component in components:
        members = set(component)
        start = component[0]
        # shortest path start -> ... -> start inside the component (breadth first)
        previous: dict[str, str] = {}
        frontier = [start]
        found = None
        while frontier and found is None:
            following = []
            for v in frontier:
                for w in sorted(graph[v]):
                    if w not in members:
                        continue
                    if w == start:
                        found = v
                        break
                    if w not in previous:
                        previous[w] = v
                        following.append(w)
                if found is not None:
                    break
            frontier = following
        path = [found]
        while path[-1] != start:
            path.append(previous[path[-1]])
        cycles.append(path[::-1])
    return sorted(cycles)


def cycle_reports(tree: Tree) -> list[str]:
    graph = import_graph(tree)
    out = []
    for cycle in find_cycles(graph):
        edges = []
        for a, b in zip(cycle, cycle[1:] + cycle[:1]):
            edges += [f"    {imp.where(tree.root)}" for imp in graph[a][b]]
        out.append(f"import cycle {cycle}:\n" + "\n".join(edges))
    return out


def _fail(problems: list[str], title: str) -> None:
    if problems:
        pytest.fail(f"{title} ({len(problems)}):\n" + "\n".join(problems), pytrace=False)


# --------------------------------------------------------------------------------------- real tree


@pytest.fixture(scope="module")
def real_tree() -> Tree:
    return walk(CORE, display=REPO)


def test_walker_sees_the_real_package(real_tree):
    internal = [i for i in real_tree.imports if _top(i.source) == PACKAGE and _top(i.target) == PACKAGE]
    assert len([m for m in real_tree.modules if _top(m) == PACKAGE]) >= 10, sorted(real_tree.modules)
    assert internal, "the walker found no import inside the package"
    assert any(i.lazy for i in internal), "the walker found no lazy import inside the package"


def test_every_module_belongs_to_a_layer_in_the_table(real_tree):
    _fail(unknown_layers(real_tree), "modules in no layer of LAYERS")


def test_layers_import_only_the_layers_below_them(real_tree):
    _fail(layer_violations(real_tree), "imports against the layer table")


def test_library_never_imports_the_demo_package(real_tree):
    _fail(demo_imports_in_library(real_tree), f"{PACKAGE} imports {DEMO_PACKAGE}")


def test_library_has_no_import_cycles(real_tree):
    _fail(cycle_reports(real_tree), "import cycles")


def test_numpy_layers_never_import_torch(real_tree):
    _fail(torch_in_numpy_layers(real_tree), "torch in a torch-free layer")


def test_core_never_imports_blender():
    _fail(blender_imports(walk(CORE, tuple(p.name for p in sorted(CORE.iterdir()) if p.is_dir()), REPO)), "bpy under core/")


# --------------------------------------------------------------------------------------- self-tests


def _package(tmp_path: Path, files: dict[str, str]) -> Tree:
    """A synthetic core/ in tmp_path: {"motionprompt/body/x.py": source}; __init__.py files added."""
    for rel, source in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")
        for parent in path.relative_to(tmp_path).parents:
            init = tmp_path / parent / "__init__.py"
            if parent != Path(".") and not init.exists():
                init.write_text("", encoding="utf-8")
    return walk(tmp_path)


def test_self_upward_and_lazy_imports_are_reported(tmp_path):
    tree = _package(
        tmp_path,
        {
            "motionprompt/body/low.py": (
                "from ..models import net\n"
                "def f():\n"
                "    from motionprompt.files.formats import export\n"
                "    import importlib\n"
                "    return importlib.import_module('motionprompt.app.cli')\n"
                "from ..atomic import atomic_path\n"
            ),
            "motionprompt/atomic.py": "",
            "motionprompt/models/net.py": "",
        },
    )
    report = "\n".join(layer_violations(tree))
    assert "motionprompt/body/low.py:1:" in report and "'models'" in report
    assert "motionprompt/body/low.py:3:" in report and "(lazy)" in report and "'files'" in report
    assert "motionprompt/body/low.py:5:" in report and "'app'" in report
    assert ":6:" not in report  # body may import atomic
    assert len(layer_violations(tree)) == 3


def test_self_relative_imports_resolve_to_absolute_modules(tmp_path):
    tree = _package(
        tmp_path,
        {
            "motionprompt/__init__.py": "from .text import clause\nfrom . import atomic\n",
            "motionprompt/atomic.py": "",
            "motionprompt/text/__init__.py": "clause = 1\n",
            "motionprompt/body/motion.py": "from . import rep272\nfrom . import NAME\nimport motionprompt.body.rep272 as r\n",
            "motionprompt/body/rep272.py": "",
            "motionprompt/files/formats.py": "from ..body.motion import Motion\nfrom .. import body\n",
            "motionprompt/files/deep/x.py": "from ...body import rep272\nfrom .... import beyond\n",
        },
    )
    targets = {(_rel(i.path, tmp_path), i.line): i.target for i in tree.imports}
    assert targets == {
        ("motionprompt/__init__.py", 1): "motionprompt.text",
        ("motionprompt/__init__.py", 2): "motionprompt.atomic",
        ("motionprompt/body/motion.py", 1): "motionprompt.body.rep272",
        ("motionprompt/body/motion.py", 2): "motionprompt.body",
        ("motionprompt/body/motion.py", 3): "motionprompt.body.rep272",
        ("motionprompt/files/formats.py", 1): "motionprompt.body.motion",
        ("motionprompt/files/formats.py", 2): "motionprompt.body",
        ("motionprompt/files/deep/x.py", 1): "motionprompt.body.rep272",
    }
    assert any("deep/x.py:2:" in p and "beyond the top-level" in p for p in layer_violations(tree))


def test_self_cycle_of_two_modules_is_found(tmp_path):
    tree = _package(
        tmp_path,
        {
            "motionprompt/text/a.py": "from . import b\n",
            "motionprompt/text/b.py": "def f():\n    from .a import thing\n",
            "motionprompt/text/c.py": "from . import a\n",  # imports into the cycle, not part of it
        },
    )
    assert find_cycles(import_graph(tree)) == [["motionprompt.text.a", "motionprompt.text.b"]]
    report = "\n".join(cycle_reports(tree))
    assert "text/a.py:1:" in report and "text/b.py:2:" in report


def test_self_package_edge_goes_to_its_init(tmp_path):
    tree = _package(
        tmp_path,
        {
            "motionprompt/body/__init__.py": "from .motion import Motion\n",
            "motionprompt/body/motion.py": "from motionprompt.body import helper\n",  # helper: not a module
        },
    )
    assert find_cycles(import_graph(tree)) == [["motionprompt.body", "motionprompt.body.motion"]]


def test_self_torch_blender_demo_and_unknown_layers_are_reported(tmp_path):
    tree = _package(
        tmp_path,
        {
            "motionprompt/body/k.py": "import numpy\ndef f():\n    import torch.nn as nn\n",
            "motionprompt/files/f.py": "from torch import nn\nimport mathutils\n",
            "motionprompt/models/m.py": "import torch\n",  # models may use torch
            "motionprompt/app/a.py": "def f():\n    from bpy_extras import io_utils\n",
            "motionprompt/text/t.py": "import motionprompt_demo.synth\n",
            "motionprompt/newthing.py": "",
            "motionprompt_demo/synth.py": "from motionprompt.app import a\n",  # the demo may use anything
        },
    )
    torch_report = torch_in_numpy_layers(tree)
    assert len(torch_report) == 2
    assert "body/k.py:3:" in torch_report[0] and "(lazy)" in torch_report[0] and "files/f.py:1:" in torch_report[1]
    blender = blender_imports(tree)
    assert len(blender) == 2
    assert any("files/f.py:2:" in b for b in blender) and any("app/a.py:2:" in b for b in blender)
    demo = demo_imports_in_library(tree)
    assert len(demo) == 1 and "text/t.py:1:" in demo[0]
    unknown = unknown_layers(tree)
    assert len(unknown) == 1 and "newthing" in unknown[0] and "LAYERS" in unknown[0]
    assert not [v for v in layer_violations(tree) if "motionprompt_demo/" in v]
