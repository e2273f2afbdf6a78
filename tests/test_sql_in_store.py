"""SQL lives in workbench/store/ (issue 19, item 1): no other module of the core writes a statement.
Docstrings and comments may name statements; string literals that are statements may not."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import workbench

PACKAGE = Path(workbench.__file__).parent
STATEMENT = re.compile(r"^\s*(SELECT\s|INSERT\s+INTO\s|UPDATE\s+\S+\s+SET\s|DELETE\s+FROM\s|CREATE\s+(TABLE|INDEX|UNIQUE|TRIGGER|VIEW)\s|"
                       r"DROP\s+(TABLE|INDEX)\s|ALTER\s+TABLE\s|PRAGMA\s|BEGIN(\s|$)|VACUUM)")


def _docstrings(tree: ast.AST) -> set[int]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                out.add(id(first.value))
    return out


def sql_literals(source: str, filename: str = "<text>") -> list[tuple[int, str]]:
    """(line, text) of every string literal (f-strings included) that starts like an SQL statement."""
    tree = ast.parse(source, filename)
    skip = _docstrings(tree)      # and the parts of f-strings, judged with their f-string
    skip |= {id(v) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for v in node.values}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            head = node.values[0] if node.values else None
            text = head.value if isinstance(head, ast.Constant) and isinstance(head.value, str) else ""
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            text = node.value
        else:
            continue
        if STATEMENT.match(text):
            found.append((node.lineno, text.strip()[:60]))
    return found


def test_the_checker_finds_statements_and_not_prose():
    src = ('"""SELECT in a docstring is prose."""\n'
           'x = "SELECT id FROM runs"\n'
           'y = f"DELETE FROM {t} WHERE id = ?"\n'
           'z = "select the best run"\n')
    assert [line for line, _ in sql_literals(src)] == [2, 3]


def test_no_sql_outside_the_store():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] == "store":
            continue
        offenders += [f"workbench/{rel}:{line}: {text}" for line, text in sql_literals(path.read_text(), str(path))]
    assert offenders == []
