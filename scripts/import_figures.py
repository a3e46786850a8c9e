"""Figures of how the code's imports are shaped, for reviews of the layout (no project import is run).

    python scripts/import_figures.py [ROOT]

Prints: modules at each app's root, import cycles between project modules (each strongly connected
set of two or more modules counts once), function-level imports (all, and of project modules),
the compliance modules that builds imports, and imports from catalog upward (into builds,
compliance or curation). Only top-level packages with an __init__.py are read; migrations are left out.
"""
import ast
import sys
from pathlib import Path

APPS = ("portal", "adapters", "catalog", "builds", "compliance", "curation")


def modules(root: Path) -> dict[str, Path]:
    found = {}
    for app in APPS:
        if not (root / app / "__init__.py").exists():
            continue
        for path in (root / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            name = ".".join(path.relative_to(root).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def imports_of(path: Path, known: set[str]) -> tuple[set[str], int, int]:
    """(project modules imported, function-level imports, function-level imports of project modules)."""
    tree = ast.parse(path.read_text(), str(path))
    targets, nested, nested_project = set(), 0, 0
    top_level = {id(node) for node in tree.body}
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
        else:
            continue
        resolved = {_known_prefix(name, known) for name in names} - {None}
        targets |= resolved
        if id(node) not in top_level and not _under_type_checking(tree, node):
            nested += 1
            nested_project += bool(resolved)
    return targets, nested, nested_project


def _known_prefix(name: str, known: set[str]) -> str | None:
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        if ".".join(parts[:end]) in known:
            return ".".join(parts[:end])
    return None


def _under_type_checking(tree, node) -> bool:
    for parent in ast.walk(tree):
        if isinstance(parent, ast.If) and isinstance(parent.test, ast.Name) and parent.test.id == "TYPE_CHECKING":
            if any(child is node for child in ast.walk(parent)):
                return True
    return False


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of two or more modules (Tarjan)."""
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
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
                found.append(sorted(component))

    sys.setrecursionlimit(10000)
    for v in graph:
        if v not in index:
            visit(v)
    return found


def main(root: Path) -> None:
    found = modules(root)
    known = set(found)
    graph, nested, nested_project = {}, 0, 0
    for name, path in found.items():
        targets, n, p = imports_of(path, known)
        # Importing a package's submodule also runs the package's __init__: not a dependency worth drawing.
        graph[name] = {t for t in targets if t != name and not name.startswith(t + ".")}
        nested, nested_project = nested + n, nested_project + p
    for app in APPS:
        if (root / app / "__init__.py").exists():
            root_modules = [p for p in (root / app).glob("*.py") if p.name != "__init__.py"]
            print(f"modules at the root of {app}/: {len(root_modules)}")
    found_cycles = cycles(graph)
    print(f"import cycles: {len(found_cycles)}")
    for cycle in found_cycles:
        print("  " + " <-> ".join(cycle))
    print(f"function-level imports: {nested} ({nested_project} of project modules)")
    reached = sorted({t for name, ts in graph.items() if name.startswith("builds") for t in ts if t.startswith("compliance")})
    print(f"compliance modules imported by builds: {len(reached)} {reached}")
    upward = sorted({f"{name} -> {t}" for name, ts in graph.items() if name.startswith("catalog")
                     for t in ts if t.split(".")[0] in ("builds", "compliance", "curation")})
    print(f"imports from catalog upward: {len(upward)}")
    for line in upward:
        print("  " + line)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve())
