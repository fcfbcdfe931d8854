"""jsonb, uuid and bytea datums (repr/jsonb.py, repr/bytea.py): round trips and PostgreSQL's order.

* Round trips (hypothesis): a value survives text output → text input, binary wire output → binary input (what
  psycopg and asyncpg use), and the storage codec, unchanged and equal; its text is a fixed point.
* jsonb equality, hashing and order are consistent (equal values hash alike, the order is total and agrees with
  equality), and follow PostgreSQL's rules on hand-checked cases (object > array > boolean > number > string >
  null; the empty top-level array below every scalar; numbers compared as numeric).
* Inputs PostgreSQL refuses are refused with its SQLSTATE.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from hypothesis import given, settings, strategies as st

from steadystate import errors
from steadystate.pgwire import values as wire
from steadystate.repr import codec
from steadystate.repr.bytea import bytea_text, parse_bytea, parse_uuid, uuid_text
from steadystate.repr.jsonb import Jsonb, from_python, jsonb_text, parse_jsonb

STRINGS = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=6)  # text
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-10**20, 10**20),
    st.decimals(allow_nan=False, allow_infinity=False, places=3, min_value=-10**6, max_value=10**6),
    STRINGS,
)
TREES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(STRINGS, inner, max_size=4)), max_leaves=12)
DOCS = TREES.map(lambda t: Jsonb(from_python(t)))


@settings(max_examples=300, deadline=None)
@given(doc=DOCS)
def test_jsonb_round_trips_through_text_wire_and_storage(doc: Jsonb) -> None:
    text = jsonb_text(doc)
    again = parse_jsonb(text)
    assert again == doc and jsonb_text(again) == text
    binary = wire.BINARY_ENCODERS[wire.JSONB](doc)
    assert binary[:1] == b"\x01" and wire.BINARY_PARSERS[wire.JSONB](binary) == doc
    assert wire.decode_param(wire.text_encoder(wire.JSONB)(doc), 0, wire.JSONB) == doc
    stored = codec.decode_updates(codec.encode_updates([((doc, None), 1, 1)]))
    assert stored[0][0][0] == doc and jsonb_text(stored[0][0][0]) == text


@settings(max_examples=300, deadline=None)
@given(a=DOCS, b=DOCS, c=DOCS)
def test_jsonb_order_is_total_and_agrees_with_equality(a: Jsonb, b: Jsonb, c: Jsonb) -> None:
    assert (a == b) == (not a < b and not b < a)
    if a == b:
        assert hash(a) == hash(b)
    if a <= b and b <= c:
        assert a <= c


@pytest.mark.parametrize("ordered", [
    # PostgreSQL: object > array > boolean > number > string > null; the empty top-level array below all
    ["[]", "null", '""', '"a"', '"b"', "-1", "1", "1.5", "false", "true", "[1]", "[2]", "[1, 2]", "{}", '{"a": 1}',
     '{"b": 1}', '{"a": 1, "b": 1}'],
    ['[null]', '[""]', "[0]", "[false]", "[[]]", "[{}]"],
    ['{"a": null}', '{"a": "x"}', '{"a": 1}', '{"a": true}', '{"a": []}', '{"a": {}}'],
    ['{"bb": 1}', '{"c": 1, "aa": 1}'],
])
def test_jsonb_order_is_postgresqls(ordered: list[str]) -> None:
    docs = [parse_jsonb(t) for t in ordered]
    assert sorted(reversed(docs)) == docs


def test_jsonb_numbers_are_numeric() -> None:
    assert parse_jsonb("1.0") == parse_jsonb("1") and jsonb_text(parse_jsonb("1.0")) == "1.0"
    assert jsonb_text(parse_jsonb("1e2")) == "100" and jsonb_text(parse_jsonb("-0")) == "0"
    assert jsonb_text(parse_jsonb('{"b": 1, "a": 2, "b": 3, "aa": [1E-3]}')) == '{"a": 2, "b": 3, "aa": [0.001]}'
    assert parse_jsonb("12345678901234567890.123456789").value == Decimal("12345678901234567890.123456789")


@pytest.mark.parametrize("text, sqlstate", [
    ("NaN", "22P02"), ("[1,]", "22P02"), ("{'a': 1}", "22P02"), ("01", "22P02"), ('"\\ud800"', "22P02"),
    ('"\\u0000"', "22P05"), ("", "22P02"), ("[1] 2", "22P02"),
])
def test_jsonb_refuses_what_postgresql_refuses(text: str, sqlstate: str) -> None:
    with pytest.raises(errors.SteadyError) as caught:
        parse_jsonb(text)
    assert caught.value.sqlstate == sqlstate


def test_jsonb_escapes_as_postgresql() -> None:
    assert jsonb_text(parse_jsonb('"a\\"b\\\\c\\n\\u0001\\u00e9\\/"')) == '"a\\"b\\\\c\\n\\u0001é/"'


@settings(max_examples=200, deadline=None)
@given(value=st.binary(max_size=40))
def test_bytea_round_trips(value: bytes) -> None:
    text = bytea_text(value)
    assert text == "\\x" + value.hex() and parse_bytea(text) == value
    assert wire.BINARY_PARSERS[wire.BYTEA](wire.BINARY_ENCODERS[wire.BYTEA](value)) == value
    assert wire.decode_param(wire.text_encoder(wire.BYTEA)(value), 0, wire.BYTEA) == value
    assert codec.decode_rows(codec.encode_rows([(value,)]))[0][0] == value


def test_bytea_input_forms() -> None:
    assert parse_bytea("\\x0A ff") == b"\n\xff"
    assert parse_bytea("a\\\\b\\001") == b"a\\b\x01"
    assert parse_bytea("é") == "é".encode()
    for bad, sqlstate in [("\\x0", "22023"), ("\\xzz", "22023"), ("a\\b", "22P02"), ("\\400", "22P02")]:
        with pytest.raises(errors.SteadyError) as caught:
            parse_bytea(bad)
        assert caught.value.sqlstate == sqlstate, bad


@settings(max_examples=200, deadline=None)
@given(value=st.uuids())
def test_uuid_round_trips(value: uuid.UUID) -> None:
    assert parse_uuid(uuid_text(value)) == value
    assert parse_uuid(value.hex.upper()) == value and parse_uuid("{" + str(value) + "}") == value
    assert wire.BINARY_PARSERS[wire.UUID](wire.BINARY_ENCODERS[wire.UUID](value)) == value
    assert codec.decode_rows(codec.encode_rows([(value,)]))[0][0] == value


@pytest.mark.parametrize("bad", [" a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1",
                                 "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "a0eebc999-c0b-4ef8-bb6d-6bb9bd380a11",
                                 "urn:uuid:a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"])
def test_uuid_refuses_what_postgresql_refuses(bad: str) -> None:
    with pytest.raises(errors.InvalidTextRepresentation):
        parse_uuid(bad)


def test_jsonb_table_function_rows() -> None:
    """The rows expr/jsonb_functions.TABLE_FUNCTIONS hands a table-function planner, in PostgreSQL's order."""
    from steadystate.expr.jsonb_functions import TABLE_FUNCTIONS

    doc = parse_jsonb('{"b": [1, "x", null], "a": {"c": true}}')
    assert TABLE_FUNCTIONS["jsonb_object_keys"].rows(doc) == [("a",), ("b",)]
    assert TABLE_FUNCTIONS["jsonb_each_text"].rows(doc) == [("a", '{"c": true}'), ("b", '[1, "x", null]')]
    elements = TABLE_FUNCTIONS["jsonb_array_elements"].rows(parse_jsonb('[1, "x", null]'))
    assert [jsonb_text(e[0]) for e in elements] == ["1", '"x"', "null"]
    assert TABLE_FUNCTIONS["jsonb_array_elements_text"].rows(parse_jsonb('[1, "x", null]')) == [("1",), ("x",), (None,)]
    for name, bad in [("jsonb_array_elements", "{}"), ("jsonb_each", "[]"), ("jsonb_object_keys", "1")]:
        with pytest.raises(errors.InvalidParameterValue):
            TABLE_FUNCTIONS[name].rows(parse_jsonb(bad))
