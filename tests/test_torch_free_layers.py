"""torch stays in the engine, the model and the plugins' ``*_impl.py``: the app's screens, the CLI's
commands, the store and the core's contracts never import it, at any level (issue 19, item 4: the
app and CLI start fast, and a screen reaches a model only through workbench/engine/)."""

from __future__ import annotations

import ast
from pathlib import Path

import workbench

PACKAGE = Path(workbench.__file__).parent
TORCH_FREE = ("tui", "cli", "store")          # folders; plus the core's top-level modules


def torch_imports(source: str, filename: str = "<text>") -> list[int]:
    """Lines that import torch (or one of its modules), anywhere in the file."""
    lines = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names = [node.module or ""]
        else:
            continue
        if any(n == "torch" or n.startswith("torch.") for n in names):
            lines.append(node.lineno)
    return sorted(lines)


def test_the_checker_sees_nested_imports():
    assert torch_imports("def f():\n    import torch.nn\n\nfrom torch import nn\nimport torchaudio\n") == [2, 4]


def test_screens_commands_store_and_contracts_do_not_import_torch():
    files = [p for folder in TORCH_FREE for p in (PACKAGE / folder).rglob("*.py")] + list(PACKAGE.glob("*.py"))
    offenders = [f"{p.relative_to(PACKAGE.parent)}:{line}" for p in sorted(files)
                 for line in torch_imports(p.read_text(), str(p))]
    assert offenders == []
