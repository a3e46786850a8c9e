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

Kept once per host, not per worker process (issue 14): parsed into Python objects, Debian 12's lists
(66,000 stanzas) cost each worker process 150 MB of RSS held per base, after a peak near 400 MB while
decoding and parsing. The lists are now written once per host into a SQLite file under APT_INDEX_DIR
(stdlib sqlite3: one file with its own B-tree indexes, read through a 2 MB page cache, nothing to
deserialise; a memory-mapped raw file would still need its name and dependency index rebuilt or
unpickled in every process). It holds each stanza's text (in list order), the names each package's
Depends/Pre-Depends name, the providers of virtual packages and the release files; `closure` and
`lists_for` query it for the few dozen packages a transaction needs. A worker that opens the file gains
3 MB of RSS, the one that writes it 13 MB (66 MB at its peak: the fetched archive itself), and
lists_for is faster: indexed lookups instead of a pass over every stanza (bench/apt_index_memory.py).

The process that fetches first holds a flock on the base's lock file, writes a temporary file, then
renames it to `<base key>-<sha256 of the file>.sqlite3`: the others wait for the lock and open that file
instead of fetching. A file whose bytes do not match its name (cut short, damaged) or whose fetch is
older than APT_INDEX_MAX_AGE_SECONDS is never used: it is fetched again, and the base's older files are
removed once the new one is in place. The in-memory PackageIndex stays as the reference form (small
lists in tests, the bench's baseline); both give byte-identical lists.
"""
import fcntl
import hashlib
import io
import itertools
import os
import re
import sqlite3
import tarfile
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

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

    # What `closure` and `lists_for` ask of an index, answered alike by the host's store (ListsStore).
    def known(self, name: str) -> bool:
        return name in self.by_name

    def providers_of(self, virtual: str) -> list[str]:
        return sorted(self.providers.get(virtual, ()))

    def depends_of(self, name: str) -> list[str]:
        return [target for _, stanza in self.by_name[name] for alternatives in stanza.depends for target in alternatives]

    def texts_for(self, names: set[str]) -> dict[str, list[str]]:
        return {filename: [s.text for s in stanzas if s.name in names] for filename, stanzas in sorted(self.lists.items())}


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


def _stanza(block: str) -> Stanza | None:
    block = block.strip("\n")
    name = _field(block, "Package")
    if not name:
        return None
    depends = _names(_field(block, "Depends")) + _names(_field(block, "Pre-Depends"))
    provides = [p[0] for p in _names(_field(block, "Provides"))]
    return Stanza(name=name, text=block, depends=depends, provides=provides)


def stanzas_iter(data: bytes | memoryview) -> Iterator[Stanza]:
    """The stanzas of a Packages file (deb822 paragraphs separated by blank lines), one at a time, so
    the store is written without holding 66,000 of them at once. Split on the raw bytes and decoded a
    stanza at a time: UTF-8 never puts an ASCII byte inside a character, so the blocks and their text are
    those of the whole file decoded, without a 50 MB string (up to 4 bytes a character) in memory."""
    start = 0
    for separator in re.finditer(rb"\n[ \t]*\n", data):
        if stanza := _stanza(bytes(data[start:separator.start()]).decode("utf-8", errors="replace")):
            yield stanza
        start = separator.end()
    if stanza := _stanza(bytes(data[start:]).decode("utf-8", errors="replace")):
        yield stanza


def packages_parse(text: str) -> list[Stanza]:
    return list(stanzas_iter(text.encode()))


def closure(index: "PackageIndex | ListsStore", names: list[str]) -> set[str] | None:
    """Every package the named ones may pull in, or None when one of them is not in the lists
    (then the transaction keeps its own `apt-get update`, and apt's own error if it has one)."""
    if not all(index.known(name) for name in names):
        return None
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        for real in ([name] if index.known(name) else index.providers_of(name)):
            if real in seen:
                continue
            seen.add(real)
            todo.extend(index.depends_of(real))
    return seen


def lists_for(index: "PackageIndex | ListsStore", names: list[str]) -> dict[str, bytes] | None:
    """The files to put in /var/lib/apt/lists for installing `names`: release files and trimmed lists."""
    needed = closure(index, names)
    if needed is None:
        return None
    files = dict(index.release_files)
    for filename, kept in index.texts_for(needed).items():
        files[filename] = ("\n\n".join(kept) + "\n").encode() if kept else b""
    return files


def transactions_rewrite(dockerfile: str, index: "PackageIndex | ListsStore") -> tuple[str, dict[str, bytes], int]:
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


def tar_lists(data: bytes) -> tuple[dict[str, bytes], dict[str, memoryview]]:
    """(release files, Packages files) of the fetch container's /tmp/portal-lists, as docker's get_archive
    gives it (uncompressed): the Packages files as views into `data`, not copies of its 50 MB."""
    release_files: dict[str, bytes] = {}
    lists: dict[str, memoryview] = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        for member in tar.getmembers():
            name = member.name.rsplit("/", 1)[-1]
            if not member.isfile():
                continue
            if RELEASE_FILE.match(name):
                release_files[name] = tar.extractfile(member).read()
            elif PACKAGES_FILE.match(name):
                lists[name] = memoryview(data)[member.offset_data:member.offset_data + member.size]
    if not lists or not release_files:
        raise ValueError("the base's apt update left no package lists or no release files")
    return release_files, lists


def index_from_tar(data: bytes) -> PackageIndex:
    """The in-memory index (the reference form) from the fetch container's archive."""
    release_files, lists = tar_lists(data)
    return PackageIndex(release_files=release_files, lists={name: list(stanzas_iter(raw)) for name, raw in lists.items()})


def lists_archive(base_reference: str, proxy: str | None = None) -> bytes:
    """Run `apt-get update` in a throw-away container of the base, on the build network, and return its
    lists as a tar archive; through `proxy` (None: the build proxy, "": none)."""
    proxy = build_proxy_url() if proxy is None else proxy
    try:
        return script_output_in_image(image=base_reference, script=FETCH_SCRIPT, path="/tmp/portal-lists",
                                      label=FETCH_LABEL, environment={"http_proxy": proxy} if proxy else {},
                                      timeout=300, token=base_pull_token, network=build_network())
    except EngineError as error:
        raise ValueError(f"apt-get update failed in the base: {error}")


def index_fetch(base_reference: str, proxy: str | None = None) -> PackageIndex:
    return index_from_tar(lists_archive(base_reference, proxy))


STORE_FORMAT = "1"
STORE_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;
CREATE TABLE release_file (position INTEGER PRIMARY KEY, name TEXT, data BLOB);
CREATE TABLE list (id INTEGER PRIMARY KEY, name TEXT);
CREATE TABLE stanza (position INTEGER PRIMARY KEY, list INTEGER, name TEXT, text TEXT);
CREATE TABLE depends (name TEXT, target TEXT, PRIMARY KEY (name, target)) WITHOUT ROWID;
CREATE TABLE provides (virtual TEXT, name TEXT, PRIMARY KEY (virtual, name)) WITHOUT ROWID;
"""


class ListsStore:
    """A base's lists in this host's store file, opened read-only; answers what `closure` and
    `lists_for` ask without loading the stanzas (each query reads a few pages)."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()  # one connection, shared by a worker's threads one query at a time
        try:
            # immutable: the file is never written once renamed into place, so no locks and no journal
            self._db = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True, check_same_thread=False)
            meta = dict(self._db.execute("SELECT key, value FROM meta"))
            self.release_files = dict(self._db.execute("SELECT name, data FROM release_file ORDER BY position"))
            self._lists = dict(self._db.execute("SELECT id, name FROM list"))
        except sqlite3.DatabaseError as error:
            raise ValueError(f"unreadable package list store {path.name}: {error}")
        if meta.get("format") != STORE_FORMAT or not self._lists:
            raise ValueError(f"package list store {path.name} is not of format {STORE_FORMAT}")
        self.base_reference, self.fetched_at = meta["base"], float(meta["fetched_at"])

    def _column(self, query: str, value: str) -> list:
        with self._lock:
            return [row[0] for row in self._db.execute(query, (value,))]

    def known(self, name: str) -> bool:
        return bool(self._column("SELECT 1 FROM stanza WHERE name = ? LIMIT 1", name))

    def providers_of(self, virtual: str) -> list[str]:
        return self._column("SELECT name FROM provides WHERE virtual = ? ORDER BY name", virtual)

    def depends_of(self, name: str) -> list[str]:
        return self._column("SELECT target FROM depends WHERE name = ?", name)

    def texts_for(self, names: set[str]) -> dict[str, list[str]]:
        rows = []
        with self._lock:
            for name in names:
                rows.extend(self._db.execute("SELECT position, list, text FROM stanza WHERE name = ?", (name,)))
        texts: dict[int, list[str]] = {list_id: [] for list_id in self._lists}
        for _, list_id, text in sorted(rows):
            texts[list_id].append(text)
        return {self._lists[list_id]: kept for list_id, kept in sorted(texts.items(), key=lambda item: self._lists[item[0]])}

    def usable(self, max_age: float) -> bool:
        return time.time() - self.fetched_at <= max_age and self.path.exists()


def base_key(base_reference: str) -> str:
    return hashlib.sha256(base_reference.encode()).hexdigest()[:16]


def _file_digest(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def store_write(directory: Path, base_reference: str, archive: bytes, fetched_at: float | None = None) -> Path:
    """The store file of the base from the fetch's archive: written under a temporary name, then renamed
    to one carrying its own SHA256 (so a reader can tell it whole); the base's older files removed."""
    release_files, lists = tar_lists(archive)
    key = base_key(base_reference)
    handle, temporary = tempfile.mkstemp(prefix=f".{key}-", suffix=".tmp", dir=directory)
    os.close(handle)
    os.chmod(temporary, 0o644)  # public package lists, read by every worker of the host whatever its user
    try:
        db = sqlite3.connect(temporary, isolation_level=None)
        db.executescript("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;" + STORE_SCHEMA)
        db.execute("BEGIN")
        db.executemany("INSERT INTO meta VALUES (?, ?)", [("format", STORE_FORMAT), ("base", base_reference),
                                                          ("fetched_at", repr(fetched_at or time.time()))])
        db.executemany("INSERT INTO release_file (name, data) VALUES (?, ?)", release_files.items())
        for list_id, (filename, raw) in enumerate(lists.items()):
            db.execute("INSERT INTO list VALUES (?, ?)", (list_id, filename))
            stanzas = stanzas_iter(raw)
            while batch := list(itertools.islice(stanzas, 2000)):  # a few at a time: the writer stays small too
                db.executemany("INSERT INTO stanza (list, name, text) VALUES (?, ?, ?)",
                               [(list_id, stanza.name, stanza.text) for stanza in batch])
                db.executemany("INSERT OR IGNORE INTO depends VALUES (?, ?)", [
                    (stanza.name, target) for stanza in batch for alternatives in stanza.depends for target in alternatives])
                db.executemany("INSERT OR IGNORE INTO provides VALUES (?, ?)",
                               [(virtual, stanza.name) for stanza in batch for virtual in stanza.provides])
        db.execute("CREATE INDEX stanza_name ON stanza (name)")
        db.execute("COMMIT")
        db.close()
        with open(temporary, "rb+") as written:
            os.fsync(written.fileno())
        final = directory / f"{key}-{_file_digest(Path(temporary))}.sqlite3"
        os.replace(temporary, final)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    for older in directory.glob(f"{key}-*.sqlite3"):
        if older != final:
            older.unlink(missing_ok=True)
    return final


def store_open(path: Path) -> ListsStore:
    """The store in `path`, only when its bytes are the ones its name records (ValueError otherwise)."""
    if not path.name.endswith(f"-{_file_digest(path)}.sqlite3"):
        raise ValueError(f"package list store {path.name} is damaged or cut short")
    return ListsStore(path)


def _stored(directory: Path, base_reference: str, max_age: float) -> ListsStore | None:
    """The newest whole, fresh store file of the base on this host; a damaged one is removed, never used."""
    fresh = []
    for path in directory.glob(f"{base_key(base_reference)}-*.sqlite3"):
        try:
            store = store_open(path)
        except FileNotFoundError:  # replaced by a newer fetch meanwhile
            continue
        except ValueError:
            path.unlink(missing_ok=True)
            continue
        if store.usable(max_age):
            fresh.append(store)
    return max(fresh, key=lambda store: store.fetched_at, default=None)


@contextmanager
def _host_lock(path: Path):
    """Held by the one process of the host fetching a base; the others wait, then read its file."""
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


_stores: dict[tuple[str, str], ListsStore] = {}
_lock = threading.Lock()


def index_for(base_reference: str, *, proxy: str, max_age: float, fetch=lists_archive,
              directory: Path | None = None) -> ListsStore:
    """The base's lists from this host's store (APT_INDEX_DIR), fetched and written by one process at a
    time when missing, damaged or older than max_age."""
    directory = Path(directory or settings.APT_INDEX_DIR)
    with _lock:
        store = _stores.get((str(directory), base_reference))
        if store is None or not store.usable(max_age):
            store = _stored(directory, base_reference, max_age)
            if store is None:
                directory.mkdir(parents=True, exist_ok=True)
                with _host_lock(directory / f"{base_key(base_reference)}.lock"):
                    for leftover in directory.glob(f".{base_key(base_reference)}-*.tmp"):  # a killed writer's
                        leftover.unlink(missing_ok=True)
                    store = _stored(directory, base_reference, max_age)  # written while this one waited?
                    if store is None:
                        store = store_open(store_write(directory, base_reference, fetch(base_reference, proxy)))
            _stores[(str(directory), base_reference)] = store
        return store


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
