"""Catalog records are built by name and copied with ``msgspec.structs.replace``, never positionally.

A record rebuilt field by field (``ClusterRecord(c.id, c.name, ...)``) silently resets a field added later, and a
positional construction silently shifts its arguments when a field is inserted.  So in ``src/steadystate`` every
construction of a durable record class (``catalog.records.RECORD_TYPES``) passes its fields as keywords (a copy
is then ``msgspec.structs.replace(record, field=...)``).  Checked on the source with :mod:`ast`.
"""

from __future__ import annotations

import ast
from pathlib import Path

from steadystate.catalog.records import RECORD_TYPES

SOURCE = Path(__file__).resolve().parents[2] / "src" / "steadystate"
RECORDS = {cls.__name__ for cls in RECORD_TYPES.values()}


def _called_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def test_records_are_built_by_keyword() -> None:
    wrong = []
    for path in sorted(SOURCE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and _called_name(node) in RECORDS and node.args:
                where = f"{path.relative_to(SOURCE.parent)}:{node.lineno}"
                wrong.append(f"{where} builds {_called_name(node)} positionally")
    assert not wrong, "build catalog records by keyword (copy them with msgspec.structs.replace):\n" + "\n".join(wrong)


def test_the_check_sees_records() -> None:
    """The record classes are found by name where the code builds them (the check above is not vacuous)."""
    built = {_called_name(node) for path in SOURCE.rglob("*.py")
             for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.Call)}
    assert RECORDS <= built
