"""The one name rule for registry paths: what passes, what is refused, and that no accepted name
can walk out of its repository."""
import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.registry_names import (
    InvalidName,
    reference_check,
    registry_name_check,
    repository_check,
    repository_path,
    tag_check,
)

HOSTILE = ["../../published/search/pay-api", "..", ".", "a/b", "a:b", "a@b", "Pay-Api", "pay api", "pay-", "-pay",
           "pay..api", "pay/../api", "pay%2f..", "pay\napi", "", "a" * 61, "pay?x=1", "pay#x", "ünïcode"]


@pytest.mark.parametrize("name", ["pay-api", "a", "a1", "pay.api", "pay_api", "pay__api", "pay--api", "x" * 60])
def test_it_accepts_registry_path_components(name):
    assert registry_name_check(name) == name


@pytest.mark.parametrize("name", HOSTILE)
def test_it_refuses_names_that_are_not_one_path_component(name):
    with pytest.raises(InvalidName):
        registry_name_check(name)


def test_it_says_what_is_wrong_in_the_users_terms():
    with pytest.raises(InvalidName, match="image name '../x' is not allowed; use lower-case letters"):
        registry_name_check("../x", what="image name")
    with pytest.raises(InvalidName, match="61 characters long; at most 60"):
        registry_name_check("a" * 61)


@given(st.text(max_size=70))
def test_no_accepted_name_can_leave_its_path_component(name):
    try:
        registry_name_check(name)
    except InvalidName:
        return
    assert "/" not in name and ".." not in name and ":" not in name and name == name.lower()
    path = repository_path("published", "payments", name)
    assert path.split("/") == ["published", "payments", name]


def test_repository_paths_are_spelled_only_from_checked_parts():
    assert repository_path("portal/published", "payments", "pay-api") == "portal/published/payments/pay-api"
    for team, name in [("payments", "../../published/search/x"), ("pay/../search", "x"), ("Payments", "x")]:
        with pytest.raises(InvalidName):
            repository_path("published", team, name)
    with pytest.raises(InvalidName):
        repository_path("published/..", "payments", "x")


@pytest.mark.parametrize("value", ["quarantine/a/../../published/b/x", "a//b", "/a", "a/", "A/b", "a/b?x"])
def test_whole_repositories_with_traversal_or_odd_parts_are_refused(value):
    with pytest.raises(InvalidName):
        repository_check(value)


def test_references_are_tags_or_sha256_digests():
    assert reference_check("build-12") == "build-12"
    assert reference_check("sha256:" + "a" * 64).startswith("sha256:")
    for bad in ["../latest", "a/b", ".hidden", "-x", "x" * 129, "sha256:xyz", ""]:
        with pytest.raises(InvalidName):
            reference_check(bad)
    assert tag_check("latest") == "latest"
