"""repr.floattext: float8_text's short way (``repr`` where it is exact) equals the long way on every float."""

from __future__ import annotations

import struct

from hypothesis import example, given, settings, strategies as st

from steadystate.repr.floattext import float8_text_long, float8_text


@settings(max_examples=3000, deadline=None)
@given(st.one_of(st.floats(), st.floats(min_value=1e-4, max_value=1e15), st.floats(min_value=-1e15, max_value=-1e-4),
                 st.integers(0, 2**64 - 1).map(lambda bits: struct.unpack("<d", struct.pack("<Q", bits))[0])))
@example(1e-4)
@example(1e15)
@example(999999999999999.9)
@example(0.1 + 0.2)
@example(-1.0)
@example(1e23)
@example(3.3256623128244992e16)
def test_the_short_way_equals_the_long_way(value: float) -> None:
    assert float8_text(value) == float8_text_long(value)
