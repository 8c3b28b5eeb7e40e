"""The code a job runs, as one hash: its script and every library file it imports (torch-free,
standard library only: the workflow computes it for each rule's ``params``).

Snakemake's code trigger sees only a rule's own script. A fix in ``training/models.py`` or in
the kernel's C++ would leave every trained cell as it was, while the tables collected afterwards
carried the new commit. So each rule passes ``code=code_hash(script)`` as a param: an edit to
a file a job depends on changes its params, and Snakemake's params trigger reruns exactly the
jobs that the edit affects (an edit to a plot retrains nothing).

What a script depends on is found, not listed: its imports of the library, followed through
the library's own imports (absolute ``rnnmemory...`` and relative ``.x``/``..x``), plus the
package ``__init__`` files that importing runs, plus the data a module names: any file or
folder beside it whose name appears as a string in its source (``csrc`` for fused.py's
kernel, ``corpus.txt`` for the chars task). A list kept by hand would go stale.
"""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path

PACKAGE = "rnnmemory"
LIBRARY = Path(__file__).resolve().parents[1]  # scripts/rnnmemory


def _module_file(parts: list[str], library: Path) -> Path | None:
    """rnnmemory.a.b -> library/a/b.py or library/a/b/__init__.py (None if not a module)."""
    base = library.joinpath(*parts)
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _package_inits(path: Path, library: Path) -> list[Path]:
    """The __init__.py of every package from the library down to ``path``'s folder."""
    inits, folder = [], path.parent
    while folder == library or library in folder.parents:
        if (folder / "__init__.py").is_file():
            inits.append(folder / "__init__.py")
        folder = folder.parent
    return inits


def _imports(path: Path, library: Path) -> set[Path]:
    """The library files that ``path`` imports directly."""
    tree = ast.parse(path.read_text(), filename=str(path))
    inside = library in path.parents
    # the dotted package of a library file, e.g. ['plots'] for rnnmemory/report/plots/horizon.py
    package = list(path.parent.relative_to(library).parts) if inside else []
    found = set()
    for node in ast.walk(tree):
        names: list[list[str]] = []
        if isinstance(node, ast.Import):
            names = [alias.name.split(".") for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: only inside the library
                if not inside:
                    continue
                base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
                module = base + (node.module.split(".") if node.module else [])
                names = [module + [alias.name] for alias in node.names] + [module]
                names = [[PACKAGE, *n] for n in names]
            elif node.module:
                module = node.module.split(".")
                names = [module + [alias.name] for alias in node.names] + [module]
        for name in names:
            if name and name[0] == PACKAGE:
                file = _module_file(name[1:], library)
                if file is not None:
                    found.add(file)
    return found


def _assets(path: Path) -> set[Path]:
    """Files and folders beside a library module that its source names in a string."""
    siblings = {p.name: p for p in path.parent.iterdir() if p.suffix != ".py"}
    siblings.pop("__pycache__", None)
    names = {
        node.value
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }
    return {siblings[name] for name in names & set(siblings)}


def dependencies(script: Path, library: Path = LIBRARY) -> list[Path]:
    """Every file ``script`` depends on: itself, the library modules it reaches through imports,
    the packages' __init__ files on the way, and the data those modules name. Sorted."""
    script = Path(script).resolve()
    seen: set[Path] = set()
    todo = [script]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        if library in path.parents:
            todo += _package_inits(path, library)
        todo += sorted(_imports(path, library) - seen)
    files = set(seen)
    for path in seen:
        if library in path.parents:
            for asset in _assets(path):
                files |= {asset} if asset.is_file() else set(_files_under(asset))
    return sorted(files)


def _files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts]


def code_hash(script, library: Path = LIBRARY) -> str:
    """12 hex digits over the contents (and names, relative to the library's folder) of
    ``dependencies(script)``."""
    library = Path(library).resolve()
    digest = hashlib.sha256()
    for path in dependencies(script, library):
        name = path.relative_to(library.parent) if library.parent in path.parents else path.name
        digest.update(f"{Path(name).as_posix()}\0".encode() + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]
