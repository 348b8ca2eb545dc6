"""The one registry class: duplicates raise, unknown names list the valid ones, temporary entries are removed."""

from __future__ import annotations

import pytest

from archgen.errors import UnknownNameError
from archgen.registry import Registry


def test_add_get_remove_and_temporarily() -> None:
    reg: Registry[int] = Registry("thing")
    reg.add("a", 1)
    with pytest.raises(ValueError, match="already registered"):
        reg.add("a", 2)
    with pytest.raises(UnknownNameError, match="a"):
        reg.get("b")
    with reg.temporarily("b", 2):
        assert reg.names() == ["a", "b"]
    assert reg.names() == ["a"]
    with pytest.raises(RuntimeError), reg.temporarily("c", 3):
        raise RuntimeError
    assert reg.names() == ["a"] and reg.remove("a") == 1 and reg.names() == []
