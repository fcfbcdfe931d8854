"""Readers of the statements that name things rather than define them: ``COMMENT ON``, ``ALTER ... RENAME TO``,
``ALTER SCHEMA|CLUSTER ... SWAP WITH``, ``CREATE DATABASE`` and ``DROP DATABASE`` (Materialize's syntax).

sql/custom_parser.py dispatches here: ``COMMENT`` as a first word, and ``ALTER`` / ``CREATE`` / ``DROP`` when
what follows is one of these forms.  Each reader walks the statement's tokens with the shared
:class:`~steadystate.sql.cursor.Cursor` and returns a node of sql/statements.py; names are resolved later, by
the adapter (adapter/renames.py), against the catalog.
"""

from __future__ import annotations

from sqlglot.tokens import TokenType

from steadystate import errors
from steadystate.sql import statements as st
from steadystate.sql.cursor import Cursor

OC = st.ObjectClass

#: the words naming each class after COMMENT ON / ALTER, longest first
_CLASS_WORDS: tuple[tuple[tuple[str, ...], st.ObjectClass], ...] = (
    (("MATERIALIZED", "VIEW"), OC.MATERIALIZED_VIEW),
    (("TABLE",), OC.TABLE),
    (("VIEW",), OC.VIEW),
    (("INDEX",), OC.INDEX),
    (("COLUMN",), OC.COLUMN),
    (("SCHEMA",), OC.SCHEMA),
    (("CLUSTER",), OC.CLUSTER),
    (("DATABASE",), OC.DATABASE),
)
#: what COMMENT ON accepts besides these, refused rather than ignored
_UNSUPPORTED_COMMENTS = ("SOURCE", "SINK", "CONNECTION", "SECRET", "TYPE", "FUNCTION", "ROLE", "NETWORK")


def _object_class(cur: Cursor) -> st.ObjectClass | None:
    for words, cls in _CLASS_WORDS:
        if cur.accept(*words):
            return cls
    return None


def comment_on(cur: Cursor) -> st.CommentOn:
    """``COMMENT ON <class> name IS 'text' | NULL``."""
    cur.expect("COMMENT")
    cur.expect("ON")
    if cur.word() in _UNSUPPORTED_COMMENTS or (cur.word() == "CLUSTER" and cur.word(1) == "REPLICA"):
        raise errors.FeatureNotSupported(f"COMMENT ON {cur.word()}{' REPLICA' if cur.word(1) == 'REPLICA' else ''} "
                                         "is not supported")
    target = _object_class(cur)
    if target is None:
        raise cur.fail()
    name = _column_name(cur) if target is OC.COLUMN else (
        (cur.ident(),) if target in (OC.CLUSTER, OC.DATABASE) else cur.name())
    cur.expect("IS")
    comment: str | None
    if cur.accept("NULL"):
        comment = None
    else:
        comment = (cur.next() if cur.at(TokenType.HEREDOC_STRING) else cur.expect_type(TokenType.STRING)).text
    cur.finish()
    return st.CommentOn(target, name, comment)


def _column_name(cur: Cursor) -> st.Name:
    parts = [cur.ident()]
    while cur.accept_type(TokenType.DOT):
        parts.append(cur.ident())
    if not 2 <= len(parts) <= 4:
        raise errors.SyntaxError_(f"column name {'.'.join(parts)} must have the form relation.column")
    return tuple(parts)


def is_alter_name(cur: Cursor) -> bool:
    """Whether the ALTER statement at ``cur`` (positioned on ALTER) renames or swaps."""
    words = {cur.word(i) for i in range(len(cur.tokens) - cur.pos)}
    return "RENAME" in words or "SWAP" in words


def alter_name(cur: Cursor) -> st.AlterName:
    """``ALTER <class> [IF EXISTS] name RENAME TO new``; ``ALTER SCHEMA|CLUSTER name SWAP WITH other``."""
    cur.expect("ALTER")
    if cur.accept("CLUSTER", "REPLICA"):
        raise errors.FeatureNotSupported("ALTER CLUSTER REPLICA ... RENAME is not supported")
    target = _object_class(cur)
    if target is None or target is OC.COLUMN:
        word = cur.word() or ""
        raise errors.FeatureNotSupported(f"ALTER {word} ... RENAME is not supported".replace("  ", " "))
    if_exists = cur.accept("IF", "EXISTS")
    name = (cur.ident(),) if target in (OC.CLUSTER, OC.DATABASE) else cur.name()
    if cur.accept("SWAP", "WITH"):
        if target not in (OC.SCHEMA, OC.CLUSTER):
            raise errors.FeatureNotSupported(f"ALTER {target.value.replace('-', ' ').upper()} ... SWAP WITH is not "
                                             "supported", hint="SWAP WITH swaps schemas or clusters")
        other = cur.ident()
        cur.finish()
        return st.AlterName(target, name, other, swap=True, if_exists=if_exists)
    cur.expect("RENAME")
    cur.expect("TO")
    new_name = cur.ident()
    cur.finish()
    return st.AlterName(target, name, new_name, swap=False, if_exists=if_exists)


def create_database(cur: Cursor) -> st.CreateDatabase:
    cur.expect("CREATE")
    cur.expect("DATABASE")
    if_not_exists = cur.accept("IF", "NOT", "EXISTS")
    name = cur.ident()
    cur.finish()
    return st.CreateDatabase(name, if_not_exists)


def drop_database(cur: Cursor) -> st.DropDatabase:
    cur.expect("DROP")
    cur.expect("DATABASE")
    if_exists = cur.accept("IF", "EXISTS")
    name = cur.ident()
    cascade = cur.accept("CASCADE") or not cur.accept("RESTRICT")  # Materialize: CASCADE is the default
    cur.finish()
    return st.DropDatabase(name, if_exists, cascade)


__all__ = ["alter_name", "comment_on", "create_database", "drop_database", "is_alter_name"]
