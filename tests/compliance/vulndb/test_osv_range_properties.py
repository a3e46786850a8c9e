"""osv_affects against a brute-force reading of OSV ranges as intervals, on generated records.

The versions come from a fixed, hand-ordered list of Debian versions; the brute force works
on their positions in that list, so it needs no version comparator at all.
"""

import hypothesis  # noqa: E402,F401  (pinned in the test extras: never skip)
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from compliance.vulndb.osv_range import is_unfixed, osv_affects  # noqa: E402
from compliance.vulndb.versions.dpkg import dpkg_key  # noqa: E402

ORDERED = [
    "0.9",
    "1.0~rc1",
    "1.0",
    "1.0-1",
    "1.0-1+b1",
    "1.0-1+deb12u1",
    "1.0-1.1",
    "1.0-2",
    "1.0.1",
    "1.1~beta",
    "1.1",
    "1:0.1",
]
BEFORE_EVERYTHING, INFINITY = -1, len(ORDERED)

positions = st.integers(0, len(ORDERED) - 1)
introduced = st.tuples(st.just("introduced"), st.one_of(st.just(BEFORE_EVERYTHING), positions))
closing = st.tuples(st.sampled_from(["fixed", "last_affected"]), positions)
limit = st.tuples(st.just("limit"), st.one_of(positions, st.just(INFINITY)))
events = st.tuples(
    st.lists(introduced, min_size=1, max_size=3),
    st.lists(closing, max_size=3),
    st.lists(limit, max_size=2),
).flatmap(lambda parts: st.permutations(parts[0] + parts[1] + parts[2]))  # records need not be sorted


def as_osv_range(generated):
    def text(position):
        if position == BEFORE_EVERYTHING:
            return "0"
        return "*" if position == INFINITY else ORDERED[position]

    return {"type": "ECOSYSTEM", "events": [{kind: text(position)} for kind, position in generated]}


def intervals(generated):
    """[start, end, end_included] for each introduced, closed by the next fix ABOVE it: a fix at the
    same version closes the line before it (fixed in one line, re-introduced at that version in another)."""
    walk = sorted((position, kind == "introduced", kind) for kind, position in generated if kind != "limit")
    spans = []
    for index, (start, _, kind) in enumerate(walk):
        if kind == "introduced":
            closer = next(((p, k) for p, _, k in walk[index + 1:] if k != "introduced"), None)
            spans.append((start, INFINITY, False) if closer is None else (start, closer[0], closer[1] == "last_affected"))
    return spans


def brute_force_affected(generated, query):
    limits = [position for kind, position in generated if kind == "limit"]
    if limits and not any(query < position for position in limits):
        return False
    return any(start <= query and (query < end or (included and query == end)) for start, end, included in intervals(generated))


def test_it_uses_a_correctly_ordered_universe():
    assert sorted(ORDERED, key=dpkg_key) == ORDERED
    assert len({dpkg_key(v) for v in ORDERED}) == len(ORDERED)


@settings(max_examples=1500, derandomize=True, database=None, deadline=None)
@given(events, positions)
def test_it_agrees_with_the_interval_reading(generated, query):
    record = {"ranges": [as_osv_range(generated)]}
    assert osv_affects(record, ORDERED[query], "Debian:12") == brute_force_affected(generated, query)


@settings(max_examples=500, derandomize=True, database=None, deadline=None)
@given(events, events, positions)
def test_it_unions_ranges(first, second, query):
    record = {"ranges": [as_osv_range(first), as_osv_range(second)]}
    expected = brute_force_affected(first, query) or brute_force_affected(second, query)
    assert osv_affects(record, ORDERED[query], "Debian:12") == expected


@settings(max_examples=800, derandomize=True, database=None, deadline=None)
@given(events, positions)
def test_it_calls_unfixed_what_no_later_fix_closes(generated, query):
    record = {"ranges": [as_osv_range(generated)]}
    fix_above = any(kind == "fixed" and position > query for kind, position in generated)
    expected = brute_force_affected(generated, query) and not fix_above
    assert is_unfixed(record, ORDERED[query], "Debian:12") == expected
