"""Package lists fetched once per base image and shared by its builds, so an apt transaction skips
`apt-get update`.

Why: in a composed Debian build each apt transaction spent about 1.8 s on `apt-get update` and
0.5 s more parsing the 50 MB of lists it fetched, every time, for a handful of packages
(bench/shared_builds.py). The worker now runs `apt-get update` once per base image and
APT_INDEX_MAX_AGE_SECONDS in a throw-away container of that base (its own sources, keyring and
signature checks), keeps the lists, and gives each transaction only the stanzas it can need: the
packages named, everything their Depends/Pre-Depends can reach (every alternative, every provider
of a virtual package, every version the lists hold), with the suites' signed InRelease files beside
them. The transaction copies those (tens of kB) into /var/lib/apt/lists, installs, and deletes them
in the same RUN; apt checks each .deb against the SHA256 of its stanza, taken from the verified lists.

Identical stanzas give an identical COPY, so the layer cache still works, and a transaction's layers
are rebuilt exactly when one of its packages changed upstream. When apt cannot resolve with the
subset (a dependency this closure did not foresee, a file gone from the mirror), the RUN deletes the
copied lists (or `apt-get update`, finding the same signed InRelease, would keep them as current) and
falls back to `apt-get update` and the same install: a build is never worse off than without the index.

Only the composer's own transaction form (builds/compose/apt_merge.py) is rewritten; the recorded Dockerfile
stays the composed one and the build log says which transactions used the index.
"""
import hashlib
import io
import re
import tarfile
import threading
import time
from dataclasses import dataclass, field

from django.conf import settings

from adapters.engine import EngineError, script_output_in_image
from adapters.factory import base_pull_token
from builds.compose.apt_merge import package_name, transaction_from_lists
from builds.runner.build_network import build_network, build_proxy_args, build_proxy_url

LISTS_DIR = "/var/lib/apt/lists"
CONTEXT_DIR = "portal-apt-lists"
FETCH_LABEL = "io.image-portal.apt-index"
TRANSACTION = re.compile(
    r"^RUN apt-get update \\\n && apt-get install -y --no-install-recommends (?P<packages>[^\n\\]+) \\\n"
    r" && rm -rf /var/lib/apt/lists/\*$", re.M)
# The names apt keeps for what matters here: signed release files and uncompressed package lists.
RELEASE_FILE = re.compile(r"^[A-Za-z0-9._~-]+_(InRelease|Release|Release\.gpg)$")
PACKAGES_FILE = re.compile(r"^[A-Za-z0-9._~-]+_Packages$")
# Run in the base image: apt's own update (signatures checked against the base's keyring), then the
# lists decompressed with apt's own helper, whatever compression this apt stores them in.
FETCH_SCRIPT = (
    "set -e; apt-get update -qq; mkdir /tmp/portal-lists; cd /var/lib/apt/lists; "
    "for f in *_Packages.*; do [ -e \"$f\" ] || continue; /usr/lib/apt/apt-helper cat-file \"$f\" > \"/tmp/portal-lists/${f%.*}\"; done; "
    "for f in *_Packages; do [ -e \"$f\" ] && cp \"$f\" /tmp/portal-lists/; done; "
    "for f in *Release *Release.gpg; do [ -e \"$f\" ] && cp \"$f\" /tmp/portal-lists/; done; true"
)


@dataclass
class Stanza:
    name: str
    text: str
    depends: list[list[str]]  # each dependency as its alternatives (names only)
    provides: list[str]


@dataclass
class PackageIndex:
    release_files: dict[str, bytes]
    lists: dict[str, list[Stanza]]  # list file name -> its stanzas
    fetched_at: float = field(default_factory=time.time)
    by_name: dict[str, list[tuple[str, Stanza]]] = field(default_factory=dict)
    providers: dict[str, set[str]] = field(default_factory=dict)

    def __post_init__(self):
        for filename, stanzas in self.lists.items():
            for stanza in stanzas:
                self.by_name.setdefault(stanza.name, []).append((filename, stanza))
                for virtual in stanza.provides:
                    self.providers.setdefault(virtual, set()).add(stanza.name)


def _field(block: str, name: str) -> str:
    match = re.search(rf"^{name}:[ \t]*(.*(?:\n[ \t].*)*)", block, re.M | re.I)
    return " ".join(match.group(1).split()) if match else ""


def _names(value: str) -> list[list[str]]:
    """'a (>= 1) | b:any, c' -> [['a', 'b'], ['c']]"""
    result = []
    for dependency in value.split(","):
        alternatives = [alt.strip().split(" ")[0].split("(")[0].split(":")[0] for alt in dependency.split("|")]
        alternatives = [a for a in alternatives if a]
        if alternatives:
            result.append(alternatives)
    return result


def packages_parse(text: str) -> list[Stanza]:
    """The stanzas of a Packages file (deb822 paragraphs separated by blank lines)."""
    stanzas = []
    for block in re.split(r"\n[ \t]*\n", text):
        block = block.strip("\n")
        name = _field(block, "Package")
        if not name:
            continue
        depends = _names(_field(block, "Depends")) + _names(_field(block, "Pre-Depends"))
        provides = [p[0] for p in _names(_field(block, "Provides"))]
        stanzas.append(Stanza(name=name, text=block, depends=depends, provides=provides))
    return stanzas


def closure(index: PackageIndex, names: list[str]) -> set[str] | None:
    """Every package the named ones may pull in, or None when one of them is not in the lists
    (then the transaction keeps its own `apt-get update`, and apt's own error if it has one)."""
    if any(name not in index.by_name for name in names):
        return None
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        for real in ([name] if name in index.by_name else sorted(index.providers.get(name, ()))):
            if real in seen:
                continue
            seen.add(real)
            for _, stanza in index.by_name[real]:
                for alternatives in stanza.depends:
                    todo.extend(alternatives)
    return seen


def lists_for(index: PackageIndex, names: list[str]) -> dict[str, bytes] | None:
    """The files to put in /var/lib/apt/lists for installing `names`: release files and trimmed lists."""
    needed = closure(index, names)
    if needed is None:
        return None
    files = dict(index.release_files)
    for filename, stanzas in sorted(index.lists.items()):
        kept = [s.text for s in stanzas if s.name in needed]
        files[filename] = ("\n\n".join(kept) + "\n").encode() if kept else b""
    return files


def transactions_rewrite(dockerfile: str, index: PackageIndex) -> tuple[str, dict[str, bytes], int]:
    """(Dockerfile, extra context files, transactions rewritten): each of the composer's apt
    transactions whose packages are all in the index copies its lists instead of updating."""
    files: dict[str, bytes] = {}
    count = 0

    def rewrite(match: re.Match) -> str:
        nonlocal count
        packages = match.group("packages").strip()
        names = [package_name(spec) for spec in packages.split()]
        lists = lists_for(index, names)
        if lists is None:
            return match.group(0)
        digest = hashlib.sha256()
        for path in sorted(lists):
            digest.update(path.encode() + b"\0" + lists[path] + b"\0")
        folder = f"{CONTEXT_DIR}/{digest.hexdigest()[:16]}"
        files.update({f"{folder}/{path}": data for path, data in lists.items()})
        count += 1
        return f"COPY {folder}/ {LISTS_DIR}/\n" + transaction_from_lists(packages, LISTS_DIR)

    return TRANSACTION.sub(rewrite, dockerfile), files, count


def index_from_tar(data: bytes) -> PackageIndex:
    """The index from the fetch container's /tmp/portal-lists, as docker's get_archive gives it."""
    release_files: dict[str, bytes] = {}
    lists: dict[str, list[Stanza]] = {}
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for member in tar.getmembers():
            name = member.name.rsplit("/", 1)[-1]
            if not member.isfile():
                continue
            if RELEASE_FILE.match(name):
                release_files[name] = tar.extractfile(member).read()
            elif PACKAGES_FILE.match(name):
                lists[name] = packages_parse(tar.extractfile(member).read().decode("utf-8", errors="replace"))
    if not lists or not release_files:
        raise ValueError("the base's apt update left no package lists or no release files")
    return PackageIndex(release_files=release_files, lists=lists)


def index_fetch(base_reference: str, proxy: str | None = None) -> PackageIndex:
    """Run `apt-get update` in a throw-away container of the base, on the build network, and read its
    lists; through `proxy` (None: the build proxy, "": none)."""
    proxy = build_proxy_url() if proxy is None else proxy
    try:
        archive = script_output_in_image(image=base_reference, script=FETCH_SCRIPT, path="/tmp/portal-lists",
                                         label=FETCH_LABEL, environment={"http_proxy": proxy} if proxy else {},
                                         timeout=300, token=base_pull_token, network=build_network())
    except EngineError as error:
        raise ValueError(f"apt-get update failed in the base: {error}")
    return index_from_tar(archive)


_cache: dict[str, PackageIndex] = {}
_lock = threading.Lock()


def index_for(base_reference: str, *, proxy: str, max_age: float, fetch=index_fetch) -> PackageIndex:
    """The base's index, fetched again once it is older than max_age (one fetch at a time)."""
    with _lock:
        index = _cache.get(base_reference)
        if index is None or time.time() - index.fetched_at > max_age:
            index = _cache[base_reference] = fetch(base_reference, proxy)
        return index


def first_base(dockerfile: str) -> str:
    match = re.search(r"^FROM (\S+)", dockerfile, re.M)
    return match.group(1) if match else ""


def apt_index_apply(dockerfile: str, files: dict[str, bytes], on_line) -> str:
    """Worker side: the Dockerfile to build, with the index's lists added to `files`; unchanged (and
    said in the log) when the index is off, not needed or cannot be fetched."""
    transactions = len(TRANSACTION.findall(dockerfile))
    if settings.APT_INDEX_MAX_AGE_SECONDS <= 0 or not transactions:
        return dockerfile
    base = first_base(dockerfile)
    proxy = build_proxy_args(url=build_proxy_url(), timeout=settings.APT_PROXY_PROBE_SECONDS,
                             on_line=lambda line: None).get("http_proxy", "")
    try:
        index = index_for(base, proxy=proxy, max_age=settings.APT_INDEX_MAX_AGE_SECONDS)
    except Exception as error:  # an outage or an odd base must never fail the build: apt updates itself
        on_line(f"Package lists: could not be fetched for this base ({error}); each apt transaction updates its own.")
        return dockerfile
    rewritten, extra, count = transactions_rewrite(dockerfile, index)
    files.update(extra)
    fetched = time.strftime("%H:%M:%S UTC", time.gmtime(index.fetched_at))
    on_line(f"Package lists: {count} of {transactions} apt transaction(s) use the lists fetched for this base at "
            f"{fetched}, without apt-get update")
    return rewritten
