"""The library's floors (rnnmemory/__init__.py): each sub-package imports only the floors below
it, and the floors the workflow or the report use without torch import no torch."""

import ast
from pathlib import Path

import pytest

LIBRARY = Path(__file__).resolve().parents[1] / "scripts" / "rnnmemory"
MAY_IMPORT = {
    "core": {"core"},
    "training": {"core", "training"},
    "probing": {"core", "training", "probing"},
    "analysis": {"core", "analysis"},
    "report": {"core", "analysis", "report"},
}
TORCH_FREE = {"core", "analysis", "report"}


def imports(path: Path) -> set[str]:
    """The top-level names a module imports (rnnmemory.<floor> as 'rnnmemory.<floor>')."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {".".join(alias.name.split(".")[:2]) for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(".".join(node.module.split(".")[:2]))
    return found


@pytest.mark.parametrize("floor", MAY_IMPORT)
def test_each_floor_imports_only_the_floors_below_it(floor):
    modules = sorted((LIBRARY / floor).rglob("*.py"))
    assert modules
    for module in modules:
        names = imports(module)
        tree = ast.parse(module.read_text())
        relative = [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level]
        assert not relative, f"{module.relative_to(LIBRARY)}: a relative import"
        floors = {name.split(".")[1] for name in names if name.startswith("rnnmemory.")}
        assert floors <= MAY_IMPORT[floor], f"{module.relative_to(LIBRARY)} imports {floors}"
        if floor in TORCH_FREE:
            assert "torch" not in names, f"{module.relative_to(LIBRARY)} imports torch"


def test_every_module_lives_on_a_floor():
    top = {p.name for p in LIBRARY.glob("*.py")}
    assert top == {"__init__.py"}
    assert {p.name for p in LIBRARY.iterdir() if p.is_dir() and p.name != "__pycache__"} == set(
        MAY_IMPORT
    )


def test_no_file_is_over_400_lines():
    """The house rule: a file a reader can hold in mind (code, tests, rules, README)."""
    root = LIBRARY.parents[1]
    files = [root / "README.md", root / "Snakefile", *root.glob("workflow/rules/*.smk")]
    for folder in ("scripts", "tests", "benchmarks"):
        files += [p for p in (root / folder).rglob("*") if p.suffix in {".py", ".h", ".cpp"}]
    long = {
        p.relative_to(root).as_posix(): n
        for p in files
        if (n := len(p.read_text().splitlines())) > 400
    }
    assert not long
