"""The package's folders are its layers, and a layer imports only layers below it.

Data flow one way: core → terminology → codesets → data → cohorts → validation → record → cli, with
teaching and reproductions on top as consumers. A module may import its own layer and lower ones.
"""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "codesetlib"
LAYERS = {
    "core": 0,
    "terminology": 1,
    "codesets": 2,
    "data": 3,
    "cohorts": 4,
    "validation": 5,
    "record": 6,
    "teaching": 7,
    "reproductions": 7,
    "cli": 8,
}


def layer_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def imports_of(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
            if node.module == "codesetlib":
                names = [f"codesetlib.{alias.name}" for alias in node.names]
            found += [(node.lineno, name) for name in names]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
    return [(line, name) for line, name in found if name.startswith("codesetlib.")]


def test_every_module_sits_in_a_layer_folder():
    loose = [p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py"]
    assert loose == []
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert folders == set(LAYERS)


def test_no_module_imports_a_higher_layer():
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        own = layer_of(".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts))
        for line, name in imports_of(path):
            if LAYERS[layer_of(name)] > LAYERS[own]:
                upward.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {name}")
    assert upward == []
