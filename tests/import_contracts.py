"""An import-linter contract for the modules at the top of the tree (models.py, access.py, ...).

import-linter builds its graph from packages only, so the top-level modules are read here with `ast`:
each module (or package) may import only from the layers below its own, and the modules of one
layer (written `a | b`) not from each other. Function-local imports count like any other.
"""
from __future__ import annotations

import ast
from pathlib import Path

from importlinter import Contract, ContractCheck, fields, output


def _files(root: Path, name: str) -> list[Path]:
    module = root / f"{name}.py"
    return [module] if module.exists() else sorted((root / name).rglob("*.py"))


def _imports(path: Path) -> list[tuple[str, int]]:
    """The top-level names a file imports (absolute imports), with their line numbers."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name.split(".")[0], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module.split(".")[0], node.lineno))
    return found


class TopLevelLayersContract(Contract):
    """Layers of top-level modules and packages, highest first; `|` separates independent siblings."""

    type_name = "top-level layers"
    layers = fields.ListField(subfield=fields.StringField())

    def check(self, graph, verbose: bool) -> ContractCheck:
        root = Path.cwd()
        level_of = {name.strip(): level for level, line in enumerate(self.layers) for name in line.split("|")}
        missing = sorted(name for name in level_of if not _files(root, name))
        broken = [f"{name} is named in the layers but is neither {name}.py nor a package" for name in missing]
        for name, level in level_of.items():
            for path in _files(root, name):
                for imported, line in _imports(path):
                    other = level_of.get(imported)
                    if other is None or imported == name:
                        continue
                    if other < level:
                        broken.append(f"{path.relative_to(root)}:{line} ({name}) imports {imported}, a higher layer")
                    elif other == level:
                        broken.append(f"{path.relative_to(root)}:{line} ({name}) imports {imported}, "
                                      "an independent sibling")
        return ContractCheck(kept=not broken, metadata={"broken": broken}, warnings=[])

    def render_broken_contract(self, check: ContractCheck) -> None:
        for problem in check.metadata["broken"]:
            output.print_error(problem)
            output.new_line()
