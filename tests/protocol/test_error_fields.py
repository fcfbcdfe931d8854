"""``errors.ErrorFields``, the one shape of an error crossing a boundary (compute protocol, adapter → pgwire).

* a SteadyError survives the trip to fields and back (sqlstate, message, detail, hint, position);
* on the compute protocol it reads what the replicas' earlier peek error (``PeekError``: sqlstate, message,
  detail, hint) encoded, and that earlier shape reads what it encodes now: replicas outlive the coordinator.
"""

from __future__ import annotations

import msgspec
from hypothesis import given, strategies as st

from steadystate.errors import ErrorFields, SteadyError
from steadystate.protocol import messages as m


class EarlierPeekError(msgspec.Struct, frozen=True):
    """The compute protocol's peek error before it became ErrorFields."""

    sqlstate: str
    message: str
    detail: str | None = None
    hint: str | None = None


texts = st.text(max_size=20)
optional = st.none() | texts


@given(st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=5, max_size=5), texts, optional, optional,
       st.none() | st.integers(min_value=1, max_value=10_000))
def test_an_error_survives_the_trip_to_fields_and_back(sqlstate: str, message: str, detail: str | None,
                                                       hint: str | None, position: int | None) -> None:
    error = SteadyError(message, sqlstate=sqlstate, detail=detail, hint=hint)
    error.position = position
    back = error.to_wire().to_error()
    assert (back.sqlstate, back.message, back.detail, back.hint, back.position) == (
        sqlstate, message, detail, hint, position)
    assert error.to_wire("FATAL").severity == "FATAL" and error.to_wire().severity == "ERROR"


@given(texts, texts, optional, optional)
def test_peek_errors_read_across_the_change(sqlstate: str, message: str, detail: str | None, hint: str | None) -> None:
    earlier = EarlierPeekError(sqlstate, message, detail, hint)
    response = m.PeekResponse("p1", error=ErrorFields(sqlstate, message, detail, hint))
    decoded = msgspec.msgpack.decode(msgspec.msgpack.encode(earlier), type=ErrorFields)
    assert decoded == ErrorFields(sqlstate, message, detail, hint)
    assert msgspec.msgpack.decode(msgspec.msgpack.encode(response.error), type=EarlierPeekError) == earlier
