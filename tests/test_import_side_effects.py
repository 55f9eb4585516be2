"""Importing the kit changes nothing global: no backend chosen, no warning filter, no logging set up.

Library code that configured matplotlib at import once cost the record its figures; every module is
imported here in a fresh interpreter, after the libraries it uses, and the global state compared.
"""

import ast
import json
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "codesetlib"

SNAPSHOT = r"""
import copy, importlib, json, locale, logging, os, signal, socket, sys, warnings

def snapshot():
    import matplotlib, numpy, pandas
    loggers = {name: (type(logger).__name__, getattr(logger, "level", None),
                      len(getattr(logger, "handlers", [])))
               for name, logger in logging.root.manager.loggerDict.items()}
    return {
        "environment": dict(os.environ),
        "warning filters": [repr(f) for f in warnings.filters],
        "showwarning": repr(warnings.showwarning),
        "root logger": (logging.root.level, len(logging.root.handlers)),
        "loggers": {k: v for k, v in loggers.items() if v[1] or v[2]},
        "matplotlib": {k: repr(v) for k, v in matplotlib.rcParams.items()},
        # pandas keeps its options in one dict; there is no public way to list them all.
        "pandas": repr(pandas._config.config._global_config),
        "numpy print": repr(numpy.get_printoptions()),
        "numpy errors": repr(numpy.geterr()),
        "signals": {s.name: repr(signal.getsignal(s)) for s in (signal.SIGINT, signal.SIGTERM)},
        "hooks": (repr(sys.excepthook), repr(sys.displayhook)),
        "recursion limit": sys.getrecursionlimit(),
        "socket timeout": socket.getdefaulttimeout(),
        "locale": locale.setlocale(locale.LC_ALL),
    }

for name in json.loads(sys.argv[1]):
    importlib.import_module(name)
before = snapshot()
for name in json.loads(sys.argv[2]):
    importlib.import_module(name)
after = snapshot()
print(json.dumps(sorted(k for k in before if before[k] != after[k])))
"""


def modules() -> list[str]:
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__main__":
            continue  # running the command is its job
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def libraries() -> list[str]:
    """The third-party modules the kit imports at module level, imported before the snapshot so
    that what they do on import is not counted against the kit."""
    found = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module)
    return sorted(n for n in found if not n.startswith("codesetlib") and n != "__future__")


def test_importing_every_module_changes_no_global_state():
    result = subprocess.run(
        [sys.executable, "-c", SNAPSHOT, json.dumps(libraries()), json.dumps(modules())],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


def test_a_change_at_import_would_be_seen(tmp_path: Path):
    (tmp_path / "configures.py").write_text('import matplotlib\nmatplotlib.use("Agg")\n')
    result = subprocess.run(
        [sys.executable, "-c", SNAPSHOT, json.dumps([]), json.dumps(["configures"])],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == ["matplotlib"]
