"""Vulnerability ids as a person types them and as the feeds write them. Pure.

Ids are case-sensitive in the data: every scheme writes its prefix in upper case, and the rest
either in upper case or digits (CVE-2024-1234, DSA-5000-1, RHSA-2024:1234, DEBIAN-CVE-2024-1234,
TEMP-0000000-2D8F4B), in lower case (GHSA-h5c8-rqwp-cp95, CGA-xxxx-xxxx-xxxx) or with a package's
own name in it (BIT-node-2023-1234). People type them in any case ("cve-2024-1234"), and links
carry them as the search wrote them (GHSA ids in upper case).
"""

__all__ = ["vulnerability_id_spellings"]


def vulnerability_id_spellings(vulnerability_id: str) -> tuple[str, ...]:
    """The spellings the advisories may use for `vulnerability_id`, the id as given first: then,
    when it has a prefix (the part before its first '-'), the prefix in upper case followed by the
    rest as given, in upper case, and in lower case. So "cve-2024-1234" is also CVE-2024-1234,
    "GHSA-H5C8-RQWP-CP95" also GHSA-h5c8-rqwp-cp95 and "bit-node-2023-1" also BIT-node-2023-1;
    an id in a case no scheme writes (a mixed-case rest typed in another mix) is not guessed.
    At most four, without repeats."""
    prefix, dash, rest = vulnerability_id.partition("-")
    if not (prefix and dash and rest):
        return (vulnerability_id,)
    prefix = prefix.upper()
    spellings = (vulnerability_id, f"{prefix}-{rest}", f"{prefix}-{rest.upper()}", f"{prefix}-{rest.lower()}")
    return tuple(dict.fromkeys(spellings))
