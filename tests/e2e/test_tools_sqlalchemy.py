"""SQLAlchemy 2 and pandas against a real server, with the dialects users get by default.

``postgresql+psycopg`` and ``postgresql+psycopg2`` connect (their first connection reads ``pg_type`` through
psycopg's ``TypeInfo.fetch``, which opens a SAVEPOINT), run Core statements (CREATE TABLE, INSERT, SELECT), map a
class with the ORM, reflect tables and views (``MetaData.reflect``, ``Inspector``: tables, columns with their types
and nullability, views, indexes); pandas reads a query into a DataFrame and writes one into a new table.  The
reflected facts are compared with what was created; query answers with what was inserted.
"""

from __future__ import annotations

from urllib.parse import quote_plus

import datetime as dt

import pandas as pd
import psycopg
import pytest
from sqlalchemy import (BigInteger, Boolean, Column, Date, Float, Integer, MetaData, Table, Text, create_engine,
                        inspect, select, text)
from sqlalchemy.exc import NotSupportedError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

DRIVERS = ["psycopg", "psycopg2"]


def engine_for(env, driver: str):  # type: ignore[no-untyped-def]
    # the password from the data directory's pgpass, as libpq's passfile= would read it
    return create_engine(f"postgresql+{driver}://materialize:{quote_plus(env.password)}@127.0.0.1:{env.sql_port}/materialize")


@pytest.mark.parametrize("driver", DRIVERS)
def test_core_create_insert_select(shared_env, driver: str) -> None:  # type: ignore[no-untyped-def]
    engine = engine_for(shared_env, driver)
    metadata = MetaData()
    table = Table(f"sa_core_{driver}", metadata,
                  Column("id", Integer, nullable=False), Column("name", Text), Column("score", Float),
                  Column("big", BigInteger), Column("ok", Boolean), Column("day", Date))
    metadata.create_all(engine)
    rows = [dict(id=1, name="a", score=1.5, big=2**40, ok=True, day=dt.date(2024, 1, 2)),
            dict(id=2, name=None, score=None, big=None, ok=False, day=None)]
    with engine.begin() as conn:
        conn.execute(table.insert(), rows)
    with engine.connect() as conn:
        got = conn.execute(select(table).order_by(table.c.id)).mappings().all()
        assert [dict(r) for r in got] == rows
        assert conn.execute(select(table.c.name).where(table.c.id.in_([2, 3]))).all() == [(None,)]
    metadata.drop_all(engine)
    assert not inspect(engine).has_table(f"sa_core_{driver}")


class Base(DeclarativeBase):
    pass


class Order(Base):
    __tablename__ = "sa_orm_orders"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # no SERIAL here
    customer: Mapped[str] = mapped_column(Text)
    amount: Mapped[float] = mapped_column(Float)


def test_orm_add_and_query(shared_env) -> None:  # type: ignore[no-untyped-def]
    # primary keys are refused (0A000, as in Materialize): the mapping names the key, the table has none
    with pytest.raises(NotSupportedError, match="constraints are not supported"):
        Base.metadata.create_all(engine_for(shared_env, "psycopg"))
    shared_env.execute("CREATE TABLE sa_orm_orders (id int NOT NULL, customer text NOT NULL, amount float8 NOT NULL)")
    engine = engine_for(shared_env, "psycopg")
    with Session(engine) as session:
        session.add_all([Order(id=1, customer="ann", amount=10.0), Order(id=2, customer="bob", amount=2.5)])
        session.commit()
    with Session(engine) as session:
        found = session.scalars(select(Order).where(Order.amount > 5)).all()
        assert [(o.id, o.customer, o.amount) for o in found] == [(1, "ann", 10.0)]
        assert session.get(Order, 2).customer == "bob"  # type: ignore[union-attr]
        session.delete(session.get(Order, 1))
        session.commit()
    assert shared_env.query("SELECT id, customer FROM sa_orm_orders") == [(2, "bob")]
    Base.metadata.drop_all(engine)


@pytest.mark.parametrize("driver", DRIVERS)
def test_reflection(shared_env, driver: str) -> None:  # type: ignore[no-untyped-def]
    suffix = driver
    shared_env.execute(
        f"CREATE TABLE sa_refl_{suffix} (id int NOT NULL, name text, total numeric, at timestamp, code varchar(3))",
        f"CREATE VIEW sa_refl_v_{suffix} AS SELECT id, name FROM sa_refl_{suffix}",
        f"CREATE MATERIALIZED VIEW sa_refl_mv_{suffix} AS SELECT count(*) AS n FROM sa_refl_{suffix}",
        f"CREATE INDEX sa_refl_idx_{suffix} ON sa_refl_{suffix} (name)",
        f"CREATE INDEX sa_refl_expr_{suffix} ON sa_refl_{suffix} (upper(name), id)",
    )
    engine = engine_for(shared_env, driver)
    inspector = inspect(engine)
    assert f"sa_refl_{suffix}" in inspector.get_table_names()
    assert f"sa_refl_v_{suffix}" in inspector.get_view_names()
    assert f"sa_refl_mv_{suffix}" in inspector.get_materialized_view_names()
    columns = {c["name"]: c for c in inspector.get_columns(f"sa_refl_{suffix}")}
    assert list(columns) == ["id", "name", "total", "at", "code"]
    assert [type(c["type"]).__name__ for c in columns.values()] == ["INTEGER", "TEXT", "NUMERIC", "TIMESTAMP",
                                                                    "VARCHAR"]
    assert columns["code"]["type"].length == 3
    assert [c["nullable"] for c in columns.values()] == [False, True, True, True, True]
    assert inspector.get_pk_constraint(f"sa_refl_{suffix}")["constrained_columns"] == []
    assert inspector.get_foreign_keys(f"sa_refl_{suffix}") == []
    assert "SELECT" in inspector.get_view_definition(f"sa_refl_v_{suffix}").upper()
    # indexes (pg_index's indkey, indclass, indoption; pg_opclass, pg_am): the keys as created, and the options
    # PostgreSQL gives a plain btree index (no USING, operator classes, sorting or predicate)
    indexes = {i["name"]: i for i in inspector.get_indexes(f"sa_refl_{suffix}")}
    assert set(indexes) == {f"sa_refl_idx_{suffix}", f"sa_refl_expr_{suffix}"}
    plain, expression = indexes[f"sa_refl_idx_{suffix}"], indexes[f"sa_refl_expr_{suffix}"]
    assert (plain["column_names"], plain["unique"], plain["dialect_options"]) == (["name"], False, {"postgresql_include": []})
    assert expression["column_names"] == [None, "id"] and expression["dialect_options"] == {"postgresql_include": []}
    assert expression["expressions"][1] == "id" and "upper" in expression["expressions"][0].lower()
    # MetaData.reflect reads the same queries for every table
    metadata = MetaData()
    metadata.reflect(engine, only=[f"sa_refl_{suffix}"])
    table = metadata.tables[f"sa_refl_{suffix}"]
    assert [c.name for c in table.columns] == ["id", "name", "total", "at", "code"]
    reflected = {i.name: [c.name for c in i.columns] for i in table.indexes}
    assert reflected[f"sa_refl_idx_{suffix}"] == ["name"]
    first, second = next(i for i in table.indexes if i.name == f"sa_refl_expr_{suffix}").expressions
    assert "upper" in str(first).lower() and second is table.c.id


@pytest.mark.parametrize("driver", DRIVERS)
def test_pandas_round_trip(shared_env, driver: str) -> None:  # type: ignore[no-untyped-def]
    engine = engine_for(shared_env, driver)
    frame = pd.DataFrame({"k": [1, 2, 3], "label": ["x", None, "z"], "value": [0.5, 1.5, None]})
    frame.to_sql(f"pd_{driver}", engine, index=False)
    back = pd.read_sql(f"SELECT k, label, value FROM pd_{driver} ORDER BY k", engine)
    pd.testing.assert_frame_equal(back, frame, check_dtype=False)
    frame.to_sql(f"pd_{driver}", engine, index=False, if_exists="append")
    counted = pd.read_sql(text(f"SELECT count(*) AS n FROM pd_{driver}"), engine)
    assert int(counted["n"][0]) == 6


def test_savepoint_is_refused_once_the_transaction_has_written(shared_env) -> None:  # type: ignore[no-untyped-def]
    shared_env.execute("CREATE TABLE sp_t (a int)")
    with shared_env.connect(autocommit=False) as conn:
        conn.execute("SELECT 1")
        with conn.transaction():  # a savepoint around reads: accepted
            conn.execute("SELECT count(*) FROM sp_t")
        conn.execute("INSERT INTO sp_t VALUES (1)")
        with pytest.raises(psycopg.errors.FeatureNotSupported):
            conn.execute("SAVEPOINT after_write")
        conn.rollback()
    with shared_env.connect(autocommit=False) as conn:
        conn.execute("SAVEPOINT s")
        conn.execute("INSERT INTO sp_t VALUES (2)")
        conn.execute("ROLLBACK TO SAVEPOINT s")  # the write after the savepoint is undone, as in PostgreSQL
        conn.execute("INSERT INTO sp_t VALUES (3)")
        conn.commit()
    assert shared_env.query("SELECT a FROM sp_t") == [(3,)]
    with shared_env.connect(autocommit=False) as conn, pytest.raises(psycopg.errors.InvalidSavepointSpecification):
        conn.execute("RELEASE SAVEPOINT nowhere")
