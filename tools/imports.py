"""Count archgen's deferred imports and find import cycles among its modules.

archgen is one namespace mapped from four folders (see ``[tool.setuptools.package-dir]``).
This script reads every library file with :mod:`ast`, resolves relative imports, and reports:

* imports inside functions (deferred imports), each with the reason written on its line or the
  line above (a comment containing ``lazy:``); ``--list`` prints them all;
* ``TYPE_CHECKING`` imports;
* strongly connected components of the runtime import graph (module-level and deferred imports,
  ``TYPE_CHECKING`` blocks excluded; an edge goes to the module named, as in grimp).

Usage: ``python tools/imports.py [--list] [--max-deferred N]``; exits 1 when a cycle exists,
a deferred import has no reason, or there are more than ``N`` deferred imports.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = {
    "archgen": "archgen",
    "predictors": "archgen.predictors",
    "datasets": "archgen.datasets",
    "api": "archgen.api",
}


def library_modules() -> dict[str, Path]:
    modules: dict[str, Path] = {}
    for folder, package in FOLDERS.items():
        base = ROOT / folder
        for path in sorted(base.rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            rel = path.relative_to(base).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            name = ".".join([package, *parts])
            # archgen/predictors etc. are not folders of archgen/, so no clash
            modules[name] = path
    return modules


def _is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def _resolve(module: str, path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    parts = module.split(".")
    if not _is_package(path):
        parts = parts[:-1]
    parts = parts[: len(parts) - (node.level - 1)] if node.level > 1 else parts
    return ".".join([*parts, *([node.module] if node.module else [])])


def _targets(module: str, path: Path, node: ast.Import | ast.ImportFrom, known: set[str]) -> list[str]:
    out: list[str] = []
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = _resolve(module, path, node)
        names = []
        for alias in node.names:
            full = f"{base}.{alias.name}"
            names.append(full if full in known else base)
    for name in names:
        if not name.startswith("archgen"):
            continue
        # grimp's semantics: an edge to the module named (its parent packages are not counted)
        while name and name not in known:
            name = name.rpartition(".")[0]
        if name:
            out.append(name)
    return out


class _Visitor(ast.NodeVisitor):
    def __init__(self) -> None:
        self.top: list[ast.Import | ast.ImportFrom] = []
        self.deferred: list[ast.Import | ast.ImportFrom] = []
        self.type_only: list[ast.Import | ast.ImportFrom] = []
        self._depth = 0
        self._type_checking = 0

    def _func(self, node: ast.AST) -> None:
        self._depth += 1
        self.generic_visit(node)
        self._depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _func

    def visit_If(self, node: ast.If) -> None:
        test = node.test
        is_tc = (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
            isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
        )
        if is_tc:
            self._type_checking += 1
            for child in node.body:
                self.visit(child)
            self._type_checking -= 1
            for child in node.orelse:
                self.visit(child)
        else:
            self.generic_visit(node)

    def _imp(self, node: ast.Import | ast.ImportFrom) -> None:
        if self._type_checking:
            self.type_only.append(node)
        elif self._depth:
            self.deferred.append(node)
        else:
            self.top.append(node)

    visit_Import = visit_ImportFrom = _imp


def _reason(lines: list[str], node: ast.AST) -> str | None:
    lineno = node.lineno
    for text in (lines[lineno - 1], lines[lineno - 2] if lineno >= 2 else ""):
        if "lazy:" in text:
            return text.split("lazy:", 1)[1].strip()
    return None


def _sccs(graph: dict[str, set[str]]) -> list[list[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]
    sys.setrecursionlimit(10_000)

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="print every deferred import with its reason")
    parser.add_argument("--max-deferred", type=int, default=None)
    args = parser.parse_args()
    modules = library_modules()
    known = set(modules)
    graph: dict[str, set[str]] = defaultdict(set)
    deferred: list[tuple[str, int, str, str | None]] = []
    n_type = 0
    files_with_deferred = set()
    for name, path in modules.items():
        text = path.read_text()
        lines = text.splitlines()
        visitor = _Visitor()
        visitor.visit(ast.parse(text))
        graph[name]
        for node in visitor.top:
            for target in _targets(name, path, node, known):
                if target != name:
                    graph[name].add(target)
        for node in visitor.deferred:
            files_with_deferred.add(name)
            for target in _targets(name, path, node, known):
                if target != name:
                    graph[name].add(target)
            deferred.append((name, node.lineno, ast.unparse(node), _reason(lines, node)))
        n_type += len(visitor.type_only)
    cycles = _sccs(graph)
    unexplained = [d for d in deferred if not d[3]]
    if args.list:
        for name, lineno, src, why in deferred:
            print(f"{name}:{lineno}: {src}  # {why or 'NO REASON'}")
    print(f"modules: {len(modules)}")
    print(
        f"deferred imports: {len(deferred)} in {len(files_with_deferred)} modules ({len(unexplained)} without a reason)"
    )
    print(f"TYPE_CHECKING imports: {n_type}")
    print(f"import cycles: {len(cycles)}")
    for comp in cycles:
        print(f"  {len(comp)} modules: {', '.join(comp)}")
    failed = bool(cycles) or bool(unexplained)
    if args.max_deferred is not None and len(deferred) > args.max_deferred:
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
