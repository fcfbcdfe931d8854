"""Readers for ``GRANT`` and ``REVOKE`` (Materialize's syntax), over the statement's tokens like
sql/custom_parser.py's readers:

* ``GRANT {SELECT | INSERT | UPDATE | DELETE | USAGE | CREATE}, ... | ALL [PRIVILEGES]
  ON [TABLE | SCHEMA | DATABASE | CLUSTER] name, ... TO {role | PUBLIC}, ...`` (``REVOKE ... FROM``);
* ``GRANT role, ... TO role, ...`` (role membership; ``REVOKE role, ... FROM role, ...``);
* ``SHOW PRIVILEGES`` and ``SHOW ROLE MEMBERSHIP``, as queries over Materialize's ``mz_internal`` relations.

``ALTER DEFAULT PRIVILEGES`` (Materialize's syntax) for ``ON TABLES``.

What Materialize has and steadystate does not (``WITH GRANT OPTION``, ``GRANTED BY``, ``ON ALL TABLES IN SCHEMA``,
types, secrets, connections, default privileges on anything but tables) is refused with 0A000, never ignored.
"""

from __future__ import annotations

from sqlglot import exp
from sqlglot.tokens import TokenType

from steadystate import errors
from steadystate.sql import statements as st
from steadystate.sql.cursor import Cursor
from steadystate.sql.syntax import parse_standard

PRIVILEGE_WORDS = ("SELECT", "INSERT", "UPDATE", "DELETE", "USAGE", "CREATE")
OBJECT_WORDS = ("TABLE", "SCHEMA", "DATABASE", "CLUSTER")
_UNSUPPORTED_OBJECTS = ("TYPE", "SECRET", "CONNECTION", "SOURCE", "SINK", "FUNCTION", "SEQUENCE", "VIEW",
                        "MATERIALIZED", "SYSTEM", "ALL")


def _list(cur: Cursor) -> tuple[str, ...]:
    out = [cur.ident()]
    while cur.accept_type(TokenType.COMMA):
        out.append(cur.ident())
    return tuple(out)


def _grantees(cur: Cursor) -> tuple[str, ...]:
    out = []
    while True:
        out.append("PUBLIC" if cur.accept("PUBLIC") else cur.ident())
        if not cur.accept_type(TokenType.COMMA):
            return tuple(out)


def _privileges(cur: Cursor) -> tuple[str, ...] | None:
    """The privilege list before ON, () for ALL [PRIVILEGES], None if this is a role grant."""
    if cur.word() == "ALL" and cur.word(1) in ("PRIVILEGES", "ON"):
        cur.accept("ALL")
        cur.accept("PRIVILEGES")
        return ()
    if cur.word() not in PRIVILEGE_WORDS:
        return None
    out = []
    while True:
        word = cur.word()
        if word not in PRIVILEGE_WORDS:
            raise cur.fail()
        cur.next()
        out.append(word)
        if not cur.accept_type(TokenType.COMMA):
            return tuple(out)


def _statement(cur: Cursor, revoke: bool) -> st.GrantPrivileges | st.GrantRole:
    cur.expect("REVOKE" if revoke else "GRANT")
    if revoke and cur.accept("GRANT", "OPTION", "FOR"):
        raise errors.FeatureNotSupported("REVOKE GRANT OPTION FOR is not supported", hint="grant options do not exist")
    start = cur.pos
    privileges = _privileges(cur)
    if privileges is None or cur.word() != "ON":
        cur.pos = start  # a role grant: GRANT r1, r2 TO m1
        roles = _list(cur)
        cur.expect("FROM" if revoke else "TO")
        members = _list(cur)
        _refuse_options(cur)
        return st.GrantRole(roles, members, revoke)
    cur.expect("ON")
    word = cur.word()
    keyword = word is not None and cur.word(1) not in ("TO", "FROM") and not _comma_next(cur)
    if keyword and word in _UNSUPPORTED_OBJECTS:
        raise errors.FeatureNotSupported(f"GRANT ... ON {word} is not supported",
                                         hint="privileges are granted ON TABLE (any relation), SCHEMA, DATABASE "
                                              "and CLUSTER")
    object_type = "TABLE"
    if keyword and word in OBJECT_WORDS:
        cur.next()
        object_type = word or "TABLE"
    names = [cur.name()]
    while cur.accept_type(TokenType.COMMA):
        names.append(cur.name())
    cur.expect("FROM" if revoke else "TO")
    grantees = _grantees(cur)
    _refuse_options(cur)
    return st.GrantPrivileges(privileges, object_type, tuple(names), grantees, revoke)


def _comma_next(cur: Cursor) -> bool:
    token = cur.peek(1)
    return token is None or token.token_type in (TokenType.COMMA, TokenType.DOT)


def _refuse_options(cur: Cursor) -> None:
    if cur.word() == "WITH":
        raise errors.FeatureNotSupported("WITH GRANT OPTION is not supported",
                                         hint="only an object's owner or a superuser grants privileges on it")
    if cur.word() == "GRANTED":
        raise errors.FeatureNotSupported("GRANTED BY is not supported")
    if cur.word() in ("CASCADE", "RESTRICT"):
        cur.next()
    cur.finish()


_DEFAULT_OBJECTS = {"TABLES": "TABLE"}


def alter_default_privileges(cur: Cursor) -> st.AlterDefaultPrivileges:
    """After ``ALTER DEFAULT PRIVILEGES``."""
    roles: tuple[str, ...] | None = ()
    if cur.accept("FOR", "ALL", "ROLES"):
        roles = None
    elif cur.accept("FOR"):
        if not (cur.accept("ROLE") or cur.accept("USER")):
            raise cur.fail()
        roles = _list(cur)
    schemas: tuple[st.Name, ...] = ()
    databases: tuple[str, ...] = ()
    if cur.accept("IN", "SCHEMA"):
        names = [cur.name()]
        while cur.accept_type(TokenType.COMMA):
            names.append(cur.name())
        schemas = tuple(names)
    elif cur.accept("IN", "DATABASE"):
        databases = _list(cur)
    revoke = cur.word() == "REVOKE"
    if not (cur.accept("GRANT") or cur.accept("REVOKE")):
        raise cur.fail()
    privileges = _privileges(cur)
    if privileges is None:
        raise cur.fail()
    cur.expect("ON")
    word = cur.word() or ""
    if word not in _DEFAULT_OBJECTS:
        raise errors.FeatureNotSupported(f"ALTER DEFAULT PRIVILEGES ... ON {word} is not supported",
                                         hint="default privileges are supported ON TABLES")
    cur.next()
    cur.expect("FROM" if revoke else "TO")
    grantees = _grantees(cur)
    _refuse_options(cur)
    return st.AlterDefaultPrivileges(roles, schemas, databases, privileges, _DEFAULT_OBJECTS[word], grantees, revoke)


def grant(cur: Cursor) -> st.GrantPrivileges | st.GrantRole:
    return _statement(cur, revoke=False)


def revoke(cur: Cursor) -> st.GrantPrivileges | st.GrantRole:
    return _statement(cur, revoke=True)


_SHOW_ON = {"CLUSTERS": "cluster", "DATABASES": "database", "SCHEMAS": "schema",
            "TABLES": "table', 'view', 'materialized view', 'system relation"}


def show_privileges(cur: Cursor) -> exp.Expr:
    """``SHOW PRIVILEGES [ON CLUSTERS | DATABASES | SCHEMAS | TABLES] [FOR role]`` (after ``SHOW PRIVILEGES``):
    a query over ``mz_internal.mz_show_all_privileges``, as Materialize defines it; ``FOR role`` shows what is
    granted to the role itself and to PUBLIC."""
    where = []
    if cur.accept("ON"):
        word = cur.word() or ""
        if word not in _SHOW_ON:
            raise errors.FeatureNotSupported(f"SHOW PRIVILEGES ON {word} is not supported",
                                             hint="ON CLUSTERS, DATABASES, SCHEMAS or TABLES")
        cur.next()
        where.append(f"object_type IN ('{_SHOW_ON[word]}')")
    if cur.accept("FOR"):
        where.append(f"grantee IN ({_literal(cur.ident())}, 'public')")
    cur.finish()
    condition = f" WHERE {' AND '.join(where)}" if where else ""
    return parse_standard("SELECT grantor, grantee, database, schema, name, object_type, privilege_type FROM "
                          f"mz_internal.mz_show_all_privileges{condition} ORDER BY 1, 2, 3, 4, 5, 6, 7", 0)


def show_role_membership(cur: Cursor) -> exp.Expr:
    """``SHOW ROLE MEMBERSHIP [FOR role]`` (after ``SHOW ROLE MEMBERSHIP``)."""
    condition = f" WHERE member = {_literal(cur.ident())}" if cur.accept("FOR") else ""
    cur.finish()
    return parse_standard(f"SELECT role, member, grantor FROM mz_internal.mz_show_role_members{condition} "
                          "ORDER BY 1, 2", 0)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
