from core.changes import UNSET, apply_changes, given


class Row:
    def __init__(self, **kw):
        self.__dict__.update(kw)


def test_unset_fields_are_left_alone_and_none_is_a_value():
    row = Row(name="a", topic="t", size=1)
    changed = apply_changes(row, {"name": UNSET, "topic": None, "size": 1})
    assert changed == {"topic": {"old": "t", "new": None}}
    assert row.name == "a" and row.topic is None and row.size == 1


def test_given_drops_unset():
    assert given(a=UNSET, b=None, c=0) == {"b": None, "c": 0}
    assert not UNSET and repr(UNSET) == "UNSET"
