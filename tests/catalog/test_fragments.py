"""The grammar of component fragments that platform admins write."""
import pytest

from catalog.fragments import FragmentError, fragment_check


def test_fragment_check_refuses_from_undeclared_placeholders_and_bad_specs():
    with pytest.raises(FragmentError, match="FROM"):
        fragment_check("FROM evil", [])
    with pytest.raises(FragmentError, match="no parameter"):
        fragment_check("RUN echo {{ nope }}", [])
    with pytest.raises(FragmentError, match="pattern"):
        fragment_check("RUN echo {{ x }}", [{"name": "x", "type": "string"}])
    fragment_check("RUN a \\\n  && FROM-looking-continuation", [])  # a continuation line is not an instruction
