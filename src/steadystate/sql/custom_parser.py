"""Readers for the statements sqlglot does not know: clusters, replicas, roles, views and indexes with
``IN CLUSTER``, DROP, SET/RESET/SHOW, COPY, transactions and DISCARD; SUBSCRIBE, cursors, SHOW CREATE/COLUMNS and
EXPLAIN's variants are read by sql/statement_readers.py, dispatched from here.

Each reader is a small recursive-descent function over the statement's sqlglot tokens, driven by a
:class:`~steadystate.sql.cursor.Cursor`.  Queries embedded in these statements (``AS query``, ``SUBSCRIBE (query)``, index keys) are
cut out of the source text by token offsets and handed to sqlglot through ``syntax.parse_standard``, so their
errors keep correct positions.  :data:`DISPATCH` maps a statement's first keyword to its reader.
"""

from __future__ import annotations

from typing import Any, Callable

from sqlglot import exp
from sqlglot.tokens import Token, TokenType

from steadystate import errors
from steadystate.sql import statement_readers
from steadystate.sql import grant_parser
from steadystate.sql import statements as st
from steadystate.sql.cursor import Cursor
from steadystate.sql import rename_parser
from steadystate.sql.syntax import error_at, parse_standard, syntax_error
from steadystate.repr.objects import ItemKind


def _query(text: str, offset: int) -> exp.Expr:
    tree = parse_standard(text, offset)
    if not isinstance(tree, (exp.Query, exp.Values)):
        raise syntax_error("syntax error: expected a query", offset)
    return tree


# ---------------------------------------------------------------------------------------------------------
# CREATE


def _create(cur: Cursor) -> Any:
    cur.expect("CREATE")
    if cur.word() in ("TEMP", "TEMPORARY") and cur.word(1) in ("VIEW", "MATERIALIZED"):
        raise errors.FeatureNotSupported("CREATE TEMPORARY VIEW is not supported",
                                         hint="Temporary tables are; create the view without TEMPORARY.")
    if cur.word() in ("TABLE", "TEMP", "TEMPORARY", "UNLOGGED"):
        return parse_standard(*_whole(cur))
    if cur.accept("CLUSTER", "REPLICA"):
        return _create_cluster_replica(cur)
    if cur.accept("CLUSTER"):
        return _create_cluster(cur)
    if cur.accept("ROLE") or cur.accept("USER"):
        name = cur.ident()
        superuser, password, _, attributes = _role_options(cur)
        return st.CreateRole(name, bool(superuser), password, attributes)
    or_replace = cur.accept("OR", "REPLACE")
    if cur.accept("MATERIALIZED", "VIEW"):
        return _create_view(cur, materialized=True, or_replace=or_replace)
    if cur.accept("VIEW"):
        return _create_view(cur, materialized=False, or_replace=or_replace)
    if cur.word() in ("DEFAULT", "INDEX", "UNIQUE"):
        return _create_index(cur)
    if cur.accept("SCHEMA"):
        if_not_exists = _if_not_exists(cur)
        schema = cur.name()
        cur.finish()
        return st.CreateSchema(schema, if_not_exists)
    if cur.word() == "DATABASE":
        cur.pos = 0
        return rename_parser.create_database(cur)
    word = cur.word()
    if word in ("SOURCE", "SINK", "CONNECTION", "SECRET", "TYPE", "FUNCTION"):
        raise errors.FeatureNotSupported(f"CREATE {word} is not supported")
    raise cur.fail()


def _whole(cur: Cursor) -> tuple[str, int]:
    start = cur.tokens[0].start
    end = cur.tokens[-1].end + 1
    cur.pos = len(cur.tokens)
    return cur.sql[start:end], start


def _create_cluster(cur: Cursor) -> st.CreateCluster:
    name = cur.ident()
    if cur.accept("REPLICAS"):
        cur.expect_type(TokenType.L_PAREN)
        replicas = []
        if not cur.at(TokenType.R_PAREN):
            while True:
                replica_name = cur.ident()
                replicas.append(st.ReplicaDef(replica_name, cur.options()))
                if not cur.accept_type(TokenType.COMMA):
                    break
        cur.expect_type(TokenType.R_PAREN)
        return st.CreateCluster(name, (), tuple(replicas))
    options = cur.options() if cur.at(TokenType.L_PAREN) else ()
    if not options and cur.accept("WITH"):
        options = cur.options()
    cur.finish()
    return st.CreateCluster(name, options, None)


def _cluster_dot_replica(cur: Cursor) -> tuple[str, str]:
    cluster = cur.ident()
    cur.expect_type(TokenType.DOT)
    return cluster, cur.ident()


def _create_cluster_replica(cur: Cursor) -> st.CreateClusterReplica:
    cluster, name = _cluster_dot_replica(cur)
    if cur.at(TokenType.L_PAREN):
        options = cur.options()
    elif cur.at_end():
        options = ()
    else:
        options = cur.bare_options()
    cur.finish()
    return st.CreateClusterReplica(cluster, name, options)


def _if_not_exists(cur: Cursor) -> bool:
    if cur.word() == "IF":
        cur.expect("IF", "NOT", "EXISTS")
        return True
    return False


def _create_view(cur: Cursor, *, materialized: bool, or_replace: bool) -> st.CreateView:
    if or_replace:
        raise errors.FeatureNotSupported("CREATE OR REPLACE VIEW is not supported")
    if_not_exists = _if_not_exists(cur)
    name = cur.name()
    columns: tuple[str, ...] | None = None
    if cur.accept_type(TokenType.L_PAREN):
        cols = [cur.ident()]
        while cur.accept_type(TokenType.COMMA):
            cols.append(cur.ident())
        cur.expect_type(TokenType.R_PAREN)
        columns = tuple(cols)
    in_cluster = None
    if cur.accept("IN", "CLUSTER"):
        in_cluster = cur.ident()
    if cur.word() != "AS":
        raise cur.fail()
    cur.next()
    text, offset = cur.rest()
    return st.CreateView(name, _query(text, offset), text, materialized, if_not_exists, in_cluster, columns)


def _create_index(cur: Cursor) -> st.CreateIndex:
    if cur.accept("UNIQUE"):
        raise errors.FeatureNotSupported("CREATE UNIQUE INDEX is not supported")
    default = cur.accept("DEFAULT")
    cur.expect("INDEX")
    if_not_exists = _if_not_exists(cur)
    name = None
    if not default and cur.word() not in ("IN", "ON"):
        name = cur.ident()
    in_cluster = None
    if cur.accept("IN", "CLUSTER"):
        in_cluster = cur.ident()
    cur.expect("ON")
    on = cur.name()
    if cur.accept("USING"):  # an index is an arrangement: btree (PostgreSQL's default) means the same, no other
        method = cur.ident()
        if method.lower() not in ("arrangement", "btree"):
            raise errors.FeatureNotSupported(f"index method {errors.quote_ident(method)} is not supported",
                                             hint="Indexes are arrangements; omit USING.")
    key: tuple[exp.Expr, ...] | None = None
    if cur.at(TokenType.L_PAREN):
        text, offset = cur.balanced()
        if default:
            raise syntax_error("CREATE DEFAULT INDEX does not take a column list", offset)
        if text.strip():
            select = parse_standard("SELECT " + text, offset - len("SELECT "))
            key = tuple(select.expressions)
    cur.finish()
    return st.CreateIndex(name, on, key, in_cluster, default, if_not_exists)


# ---------------------------------------------------------------------------------------------------------
# DROP / ALTER


_DROP_KINDS = {("TABLE",): ItemKind.TABLE, ("VIEW",): ItemKind.VIEW,
               ("MATERIALIZED", "VIEW"): ItemKind.MATERIALIZED_VIEW, ("INDEX",): ItemKind.INDEX}


def _if_exists(cur: Cursor) -> bool:
    return cur.accept("IF", "EXISTS")


def _cascade(cur: Cursor) -> bool:
    if cur.accept("CASCADE"):
        return True
    cur.accept("RESTRICT")
    return False


def _drop(cur: Cursor) -> Any:
    cur.expect("DROP")
    if cur.accept("CLUSTER", "REPLICA"):
        if_exists = _if_exists(cur)
        cluster, name = _cluster_dot_replica(cur)
        cur.finish()
        return st.DropClusterReplica(cluster, name, if_exists)
    if cur.accept("CLUSTER"):
        if_exists = _if_exists(cur)
        name = cur.ident()
        cascade = _cascade(cur)
        cur.finish()
        return st.DropCluster(name, if_exists, cascade)
    if cur.accept("ROLE") or cur.accept("USER"):
        if_exists = _if_exists(cur)
        name = cur.ident()
        cur.finish()
        return st.DropRole(name, if_exists)
    if cur.accept("SCHEMA"):
        if_exists = _if_exists(cur)
        schema = cur.name()
        cascade = _cascade(cur)
        cur.finish()
        return st.DropSchema(schema, if_exists, cascade)
    for words, kind in _DROP_KINDS.items():
        if cur.accept(*words):
            if_exists = _if_exists(cur)
            names = [cur.name()]
            while cur.accept_type(TokenType.COMMA):
                names.append(cur.name())
            cascade = _cascade(cur)
            cur.finish()
            return st.DropObjects(kind, tuple(names), if_exists, cascade)
    if cur.word() == "DATABASE":
        cur.pos = 0
        return rename_parser.drop_database(cur)
    word = cur.word()
    if word in ("SOURCE", "SINK", "CONNECTION", "SECRET", "TYPE"):
        raise errors.FeatureNotSupported(f"DROP {word} is not supported")
    raise cur.fail()


_ATTRIBUTES = {"CREATEROLE": ("createrole", True), "NOCREATEROLE": ("createrole", False),
               "CREATEDB": ("createdb", True), "NOCREATEDB": ("createdb", False),
               "CREATECLUSTER": ("createcluster", True), "NOCREATECLUSTER": ("createcluster", False)}


def _role_options(cur: Cursor) -> tuple[bool | None, str | None, bool, tuple[tuple[str, bool], ...]]:
    """``[WITH] {SUPERUSER | NOSUPERUSER | LOGIN | PASSWORD 'p' | PASSWORD NULL | [NO]CREATEROLE | [NO]CREATEDB |
    [NO]CREATECLUSTER | INHERIT} ...``: (superuser or None if unsaid, password or None, PASSWORD NULL said, the
    role attributes said).  Every role may log in with its password (LOGIN says so) and inherits the privileges
    of the roles granted to it (INHERIT); NOLOGIN and NOINHERIT are refused rather than ignored."""
    cur.accept("WITH")
    superuser: bool | None = None
    password: str | None = None
    clear = False
    attributes: list[tuple[str, bool]] = []
    while not cur.at_end():
        word = cur.word() or ""
        if word in _ATTRIBUTES:
            cur.next()
            attributes.append(_ATTRIBUTES[word])
        elif cur.accept("INHERIT"):
            continue
        elif word == "NOINHERIT":
            raise errors.FeatureNotSupported("NOINHERIT is not supported", hint="every role inherits its roles' "
                                                                                 "privileges, as in Materialize")
        elif cur.accept("SUPERUSER"):
            superuser = True
        elif cur.accept("NOSUPERUSER"):
            superuser = False
        elif cur.accept("LOGIN"):
            continue
        elif cur.word() == "NOLOGIN":
            raise errors.FeatureNotSupported("NOLOGIN is not supported",
                                             hint="a role without a password cannot log in: use PASSWORD NULL")
        elif cur.accept("PASSWORD"):
            if cur.accept("NULL"):
                clear = True
            else:
                password = cur.expect_type(TokenType.STRING).text
        else:
            raise cur.fail()
    return superuser, password, clear, tuple(attributes)


def _alter_system(cur: Cursor) -> st.AlterSystem:
    """``SET name {= | TO} {value | DEFAULT}``, ``RESET {name | ALL}`` (after ``ALTER SYSTEM``)."""
    if cur.accept("RESET"):
        name = cur.ident()
        cur.finish()
        return st.AlterSystem(name.lower(), None)
    cur.expect("SET")
    name = cur.ident().lower()
    if not cur.accept_type(TokenType.EQ):
        cur.expect("TO")
    if cur.accept("DEFAULT"):
        cur.finish()
        return st.AlterSystem(name, None)
    token = cur.next()
    if token.token_type not in (TokenType.NUMBER, TokenType.STRING, TokenType.VAR):
        raise error_at(token)
    cur.finish()
    return st.AlterSystem(name, token.text)


def _alter(cur: Cursor) -> st.AlterCluster | st.AlterRole | st.AlterName | st.AlterSystem | st.AlterDefaultPrivileges:
    if rename_parser.is_alter_name(cur):
        return rename_parser.alter_name(cur)
    cur.expect("ALTER")
    if cur.accept("SYSTEM"):
        return _alter_system(cur)
    if cur.accept("DEFAULT", "PRIVILEGES"):
        return grant_parser.alter_default_privileges(cur)
    if cur.word() in ("ROLE", "USER"):
        cur.next()
        name = cur.ident()
        superuser, password, clear, attributes = _role_options(cur)
        return st.AlterRole(name, superuser, password, clear, attributes)
    if cur.word() != "CLUSTER":
        word = cur.word() or ""
        raise errors.FeatureNotSupported(f"ALTER {word} is not supported".replace("  ", " "))
    cur.next()
    name = cur.ident()
    options: st.Options
    if cur.accept("SET"):
        options = cur.options()
        wait: st.Options | None = None
        if cur.accept("WITH"):
            cur.expect_type(TokenType.L_PAREN)
            if cur.accept("WAIT", "FOR"):
                raise errors.FeatureNotSupported(
                    "ALTER CLUSTER ... WITH (WAIT FOR ...) is not supported",
                    hint="use WITH (WAIT UNTIL READY (TIMEOUT = '...', ON TIMEOUT = 'COMMIT' | 'ROLLBACK'))")
            cur.expect("WAIT")
            cur.expect("UNTIL")
            cur.expect("READY")
            wait = cur.options() if cur.at(TokenType.L_PAREN) else ()
            cur.expect_type(TokenType.R_PAREN)
        cur.finish()
        return st.AlterCluster(name, st.AlterAction.SET, options, wait)
    if cur.accept("OWNER", "TO"):
        owner = cur.ident()
        cur.finish()
        return st.AlterCluster(name, st.AlterAction.OWNER, (("OWNER", owner),))
    for word, action in (("SEAL", st.AlterAction.SEAL), ("UNSEAL", st.AlterAction.UNSEAL),
                         ("RESTART", st.AlterAction.RESTART)):
        if cur.accept(word):
            options = ()
            if cur.accept("WITH"):
                options = cur.options()
            elif cur.at(TokenType.L_PAREN):
                options = cur.options()
            cur.finish()
            return st.AlterCluster(name, action, options)
    raise cur.fail()


# ---------------------------------------------------------------------------------------------------------
# Session statements


def _set_value(cur: Cursor) -> str | None:
    if cur.accept("DEFAULT"):
        return None
    parts = []
    while True:
        token = cur.next()
        if token.token_type == TokenType.IDENTIFIER:
            parts.append(token.text)
        elif token.token_type in (TokenType.STRING, TokenType.NUMBER):
            parts.append(token.text)
        elif token.token_type in (TokenType.TRUE, TokenType.FALSE) or token.text.replace("_", "a").isalnum():
            parts.append(token.text.lower())
        elif token.token_type == TokenType.DASH and cur.at(TokenType.NUMBER):
            parts.append("-" + cur.next().text)
        else:
            cur.pos -= 1
            raise cur.fail()
        if not cur.accept_type(TokenType.COMMA):
            break
    return ", ".join(parts)


def _set(cur: Cursor) -> Any:
    cur.expect("SET")
    local = cur.accept("LOCAL")
    if cur.accept("SESSION", "CHARACTERISTICS", "AS", "TRANSACTION"):  # the session's default modes
        read_only = transaction_modes(cur)
        if read_only is None:
            return st.SetVariable("transaction_isolation", "strict serializable", local)
        return st.SetVariable("default_transaction_read_only", "on" if read_only else "off", local)
    if not local:
        cur.accept("SESSION")
    if cur.accept("TRANSACTION"):  # this transaction's modes (an isolation level alone changes nothing here)
        read_only = transaction_modes(cur)
        if read_only is None:
            return st.SetVariable("transaction_isolation", "strict serializable", local=True)
        return st.SetVariable("transaction_read_only", "on" if read_only else "off", local=True)
    if cur.accept("TIME", "ZONE"):
        name = "timezone"
    elif cur.accept("NAMES"):
        name = "client_encoding"
    else:
        name = ".".join(cur.name())
        if not (cur.accept_type(TokenType.EQ) or cur.accept("TO")):
            raise cur.fail()
    value = _set_value(cur)
    cur.finish()
    return st.SetVariable(name, value, local)


def _reset(cur: Cursor) -> st.ResetVariable:
    cur.expect("RESET")
    name = "all" if cur.accept("ALL") else ".".join(cur.name())
    cur.finish()
    return st.ResetVariable(name)


def _in_cluster(cur: Cursor) -> str | None:
    if cur.accept("IN", "CLUSTER") or cur.accept("FROM", "CLUSTER"):
        return cur.ident()
    return None


def _show(cur: Cursor) -> Any:
    cur.expect("SHOW")
    if cur.accept("CREATE"):
        return statement_readers.read_show_create(cur)
    if cur.accept("COLUMNS"):
        return statement_readers.read_show_columns(cur)
    if cur.accept("CLUSTER", "REPLICAS"):
        cur.finish()
        return st.ShowObjects("cluster_replicas")
    if cur.accept("CLUSTERS"):
        cur.finish()
        return st.ShowObjects("clusters")
    if cur.accept("INDEXES") or cur.accept("INDEX"):
        on = None
        if cur.accept("ON") or cur.accept("FROM"):
            on = cur.name()
        in_cluster = _in_cluster(cur)
        cur.finish()
        return st.ShowObjects("indexes", on, in_cluster)
    if cur.accept("MATERIALIZED", "VIEWS"):
        in_cluster = _in_cluster(cur)
        cur.finish()
        return st.ShowObjects("materialized_views", None, in_cluster)
    if cur.accept("OBJECTS"):
        schema = cur.name() if cur.accept("FROM") or cur.accept("IN") else None
        cur.finish()
        return st.ShowObjects("objects", schema=schema)
    for word, kind in (("TABLES", "tables"), ("VIEWS", "views")):
        if cur.accept(word):
            cur.finish()
            return st.ShowObjects(kind)
    if cur.accept("PRIVILEGES"):
        return grant_parser.show_privileges(cur)
    if cur.accept("ROLE", "MEMBERSHIP"):
        return grant_parser.show_role_membership(cur)
    if cur.accept("TRANSACTION", "ISOLATION", "LEVEL"):
        cur.finish()
        return st.ShowVariable("transaction_isolation")
    if cur.accept("TIME", "ZONE"):
        cur.finish()
        return st.ShowVariable("timezone")
    name = "all" if cur.accept("ALL") else ".".join(cur.name())
    cur.finish()
    return st.ShowVariable(name)


def _transaction(action: st.TransactionAction, *leading: tuple[str, ...]) -> Callable[[Cursor], st.Transaction]:
    def read(cur: Cursor) -> st.Transaction:
        for words in leading:
            if cur.accept(*words):
                break
        else:
            raise cur.fail()
        cur.accept("WORK") or cur.accept("TRANSACTION")
        if action is st.TransactionAction.ROLLBACK and cur.accept("TO"):
            cur.accept("SAVEPOINT")
            name = cur.ident()
            cur.finish()
            return st.Transaction(st.TransactionAction.ROLLBACK_TO_SAVEPOINT, name)
        read_only = transaction_modes(cur) if action is st.TransactionAction.BEGIN else None
        while action is not st.TransactionAction.BEGIN and cur.accept("AND"):  # COMMIT AND NO CHAIN
            if not cur.accept("NO", "CHAIN"):
                raise errors.FeatureNotSupported("AND CHAIN is not supported")
        cur.finish()
        return st.Transaction(action, read_only=read_only)

    return read


#: PostgreSQL's isolation levels: every one is served as strict serializable, which is stronger than each (the SQL
#: standard allows a stronger level than the one asked for)
_ISOLATION_LEVELS = (("SERIALIZABLE",), ("REPEATABLE", "READ"), ("READ", "COMMITTED"), ("READ", "UNCOMMITTED"),
                     ("STRICT", "SERIALIZABLE"))


def transaction_modes(cur: Cursor) -> bool | None:
    """``ISOLATION LEVEL ...``, ``READ ONLY``/``READ WRITE``, ``[NOT] DEFERRABLE``, separated by commas: whether the
    transaction is read-only (``None`` when the modes do not say)."""
    read_only: bool | None = None
    while not cur.at_end():
        if cur.accept("ISOLATION", "LEVEL"):
            if not any(cur.accept(*level) for level in _ISOLATION_LEVELS):
                raise cur.fail()
        elif cur.accept("READ", "ONLY"):
            read_only = True
        elif cur.accept("READ", "WRITE"):
            read_only = False
        elif cur.accept("NOT", "DEFERRABLE") or cur.accept("DEFERRABLE"):
            pass
        else:
            raise cur.fail()
        if not cur.accept_type(TokenType.COMMA) and not cur.at_end():
            continue
    return read_only


def _savepoint(cur: Cursor) -> st.Transaction:
    if cur.accept("SAVEPOINT"):
        action = st.TransactionAction.SAVEPOINT
    else:
        cur.expect("RELEASE")
        cur.accept("SAVEPOINT")
        action = st.TransactionAction.RELEASE_SAVEPOINT
    name = cur.ident()
    cur.finish()
    return st.Transaction(action, name)


def _discard(cur: Cursor) -> st.Discard:
    cur.expect("DISCARD")
    for word in ("ALL", "PLANS", "SEQUENCES", "TEMP", "TEMPORARY"):
        if cur.accept(word):
            cur.finish()
            return st.Discard(word.lower())
    raise cur.fail()


def _deallocate(cur: Cursor) -> st.Deallocate:
    cur.expect("DEALLOCATE")
    cur.accept("PREPARE")
    if cur.accept("ALL"):
        cur.finish()
        return st.Deallocate(None)
    name = cur.name()
    cur.finish()
    return st.Deallocate(name[-1])


# ---------------------------------------------------------------------------------------------------------
# SUBSCRIBE / COPY / EXPLAIN


def _subscribe(cur: Cursor) -> st.Subscribe:
    node = statement_readers.read_subscribe(cur)
    cur.finish()
    return node


def _copy_options(cur: Cursor) -> st.Options:
    if cur.accept("WITH") or cur.at(TokenType.L_PAREN):
        if cur.at(TokenType.L_PAREN):
            return cur.options()
    legacy: list[tuple[str, st.OptionValue]] = []
    while not cur.at_end():
        if cur.accept("CSV"):
            legacy.append(("FORMAT", "csv"))
        elif cur.accept("BINARY"):
            legacy.append(("FORMAT", "binary"))
        elif cur.accept("HEADER"):
            legacy.append(("HEADER", True))
        elif cur.accept("DELIMITER"):
            cur.accept("AS")
            legacy.append(("DELIMITER", cur.value()))
        elif cur.accept("NULL"):
            cur.accept("AS")
            legacy.append(("NULL", cur.value()))
        else:
            raise cur.fail()
    return tuple(legacy)


def _copy(cur: Cursor) -> Any:
    cur.expect("COPY")
    if cur.at(TokenType.L_PAREN):
        text, offset = cur.balanced()
        stripped = text.lstrip()
        if stripped[:9].upper() == "SUBSCRIBE":
            inner_start = offset + (len(text) - len(stripped))
            inner_tokens = [t for t in cur.tokens if inner_start <= t.start < offset + len(text)]
            inner: st.Subscribe | exp.Expr = _subscribe(Cursor(cur.sql, inner_tokens))
        else:
            inner = _query(text, offset)
        cur.expect("TO", "STDOUT")
        options = _copy_options(cur)
        return st.CopyTo(inner, text, options)
    table = cur.name()
    columns = None
    if cur.accept_type(TokenType.L_PAREN):
        cols = [cur.ident()]
        while cur.accept_type(TokenType.COMMA):
            cols.append(cur.ident())
        cur.expect_type(TokenType.R_PAREN)
        columns = tuple(cols)
    if cur.accept("TO"):
        raise errors.FeatureNotSupported("COPY table TO is not supported", hint="Use COPY (SELECT ...) TO STDOUT.")
    cur.expect("FROM")
    if not cur.accept("STDIN"):
        raise errors.FeatureNotSupported("COPY FROM a file is not supported", hint="Use COPY ... FROM STDIN.")
    return st.CopyFrom(table, columns, _copy_options(cur))


def _explain(cur: Cursor) -> st.Explain:
    cur.expect("EXPLAIN")
    if cur.accept("RESTART", "CLUSTER"):
        name = cur.ident()
        cur.finish()
        return st.Explain("restart_cluster", name=(name,))
    return statement_readers.read_explain(cur)


def _run(reader: Callable[[Cursor], st.Node]) -> Callable[[str, list[Token]], st.Node]:
    def handle(sql: str, tokens: list[Token]) -> st.Node:
        cur = Cursor(sql, tokens)
        node = reader(cur)
        if not cur.at_end():
            raise cur.fail()
        return node

    return handle


DISPATCH: dict[str, Callable[[str, list[Token]], st.Node]] = {
    "CREATE": _run(_create),
    "DROP": _run(_drop),
    "ALTER": _run(_alter),
    "COMMENT": _run(rename_parser.comment_on),
    "SET": _run(_set),
    "RESET": _run(_reset),
    "SHOW": _run(_show),
    "SUBSCRIBE": _run(_subscribe),
    "COPY": _run(_copy),
    "EXPLAIN": _run(_explain),
    "BEGIN": _run(_transaction(st.TransactionAction.BEGIN, ("BEGIN",))),
    "START": _run(_transaction(st.TransactionAction.BEGIN, ("START", "TRANSACTION"))),
    "COMMIT": _run(_transaction(st.TransactionAction.COMMIT, ("COMMIT",))),
    "END": _run(_transaction(st.TransactionAction.COMMIT, ("END",))),
    "ROLLBACK": _run(_transaction(st.TransactionAction.ROLLBACK, ("ROLLBACK",))),
    "ABORT": _run(_transaction(st.TransactionAction.ROLLBACK, ("ABORT",))),
    "SAVEPOINT": _run(_savepoint),
    "RELEASE": _run(_savepoint),
    "DISCARD": _run(_discard),
    "DEALLOCATE": _run(_deallocate),
    "DECLARE": _run(statement_readers.read_declare),
    "FETCH": _run(statement_readers.read_fetch),
    "CLOSE": _run(statement_readers.read_close),
    "GRANT": _run(grant_parser.grant),
    "REVOKE": _run(grant_parser.revoke),
}
