"""The id scheme of ``repr.objects``: ids made from a kind and a number classify and order by them."""

from __future__ import annotations

from hypothesis import given, strategies as st

from steadystate.repr.objects import IdKind, id_kind, id_number, id_order, is_system, is_transient, is_user, make_id

ids = st.tuples(st.sampled_from(list(IdKind)), st.integers(min_value=1, max_value=10**9))


@given(ids)
def test_an_id_gives_back_its_kind_and_number(made: tuple[IdKind, int]) -> None:
    kind, number = made
    id_ = make_id(kind, number)
    assert (id_kind(id_), id_number(id_)) == (kind, number)
    assert [is_user(id_), is_system(id_), is_transient(id_)] == [
        kind is IdKind.USER, kind is IdKind.SYSTEM, kind is IdKind.TRANSIENT]


@given(st.lists(ids, unique=True))
def test_ids_order_by_kind_then_number(made: list[tuple[IdKind, int]]) -> None:
    ordered = sorted((make_id(k, n) for k, n in made), key=id_order)
    assert ordered == [make_id(k, n) for k, n in sorted(made, key=lambda kn: (kn[0].value, kn[1]))]
