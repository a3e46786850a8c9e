"""Time what signing and attaching attestations adds to an image's publication, side by side.

    .venv/bin/python bench/attestation_overhead.py [--runs 15] [--keep-db] [--profile]

Method. One real build of a Debian 12 image (wget and the non-root runtime user from the starter
catalog) goes through the portal's pipeline, run in this process (build_run: build, push, scan,
policy, publication). Then --runs pairs of publications, alternating A B / B A: each is a new recipe
of the same composition, requested with build_request, so the pipeline reuses the seed image (a
registry copy into the recipe's own quarantine repository, the SBOM copied, the verdict evaluated)
and the gate publishes it into a fresh `published/<team>/<name>`, as a recipe's first publication
goes. Only the gate's `image_publish` is timed, on the real registry with the gate's tokens:

  A  as it is: the copy to published/ and `image_attest` overlap (the cosign `.sig` signature, and
     provenance, SBOM and verdict statements, each DSSE-signed and attached twice: a sigstore bundle
     referrer and a layer of the `.att` list; their blobs go up while the image is copied, their
     manifests once it is), then `latest`;
  B  the same with compliance.gate.image_attest replaced by a no-op (in this process only): the copy,
     then `latest`.

One A and one B publication warm up first (connections, tokens) and are not counted.

Printed: median and p90 of A and B, their ratio and the milliseconds attestations add (target:
<= 100 ms median per publication); where the time goes, per publication (a request counts in the
part running when it was sent: in A the copy's requests mostly count in image_attest): the gate's own part
(registry requests, 401 token challenges, SQL statements) and image_attest split into signing in
memory (dsse_sign, simple_sign), the registry writes (wall time of oci.attachments_write, whose
requests run in parallel; per HTTP method their summed times), SQL, reading the CycloneDX SBOM stored
at scan time (scan_cyclonedx) and the rest; and the same four signatures made again in memory, repeated, to show
signing alone without registry or noise. The last A publication is checked with reference_verify:
what was timed are real, valid attachments. --profile adds image_attest's cProfile (slower A runs).

Needs `scripts/ensure-services.sh --with-db` and the base images (`scripts/make-base-images.sh`).
Its own database, postgres://postgres@127.0.0.1:5432/portalbench_att (another with
ATTESTATION_BENCH_DATABASE_URL; its name must hold "bench"), is re-created at the start and dropped
at the end (--keep-db keeps it); its broker is redis://127.0.0.1:6379/6 (ATTESTATION_BENCH_BROKER_URL),
though nothing is queued (the builds run here; that Redis database is emptied at the end anyway).
DATABASE_URL and CELERY_BROKER_URL from the shell are ignored. The signing key is a temporary file. Left in the registry (the bench
deletes nothing there): per run of the bench, 2 x runs + 3 repositories under
quarantine/bench-attestations/ and as many under published/bench-attestations/, holding tags and
small attachments only (the layers are the seed image's, mounted). About 45 s with --runs 15.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# Set here, not taken from DATABASE_URL / CELERY_BROKER_URL: the bench drops its database and empties
# its Redis database at the end, which must never be the ones a shell points the portal at.
os.environ["DATABASE_URL"] = os.environ.get("ATTESTATION_BENCH_DATABASE_URL",
                                            "postgres://postgres@127.0.0.1:5432/portalbench_att")
os.environ["CELERY_BROKER_URL"] = os.environ.get("ATTESTATION_BENCH_BROKER_URL", "redis://127.0.0.1:6379/6")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
TEAM = "bench-attestations"
COMPONENTS = ("wget", "runtime-user")


def psql(sql: str) -> str:
    server = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/postgres"
    return subprocess.run(["psql", server, "-Atc", sql], check=True, capture_output=True, text=True).stdout.strip()


def database_name() -> str:
    name = os.environ["DATABASE_URL"].rsplit("/", 1)[1].split("?")[0]
    if "bench" not in name:
        sys.exit(f"refusing to drop and re-create database {name!r}: the bench's database needs 'bench' in its name")
    return name


def database_recreate() -> None:
    psql(f'drop database if exists "{database_name()}" with (force)')
    psql(f'create database "{database_name()}"')


def signing_key_file(folder: str) -> None:
    """A key of the bench's own, read by the settings (PORTAL_SIGNING_KEY_FILE) at django.setup()."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    path = Path(folder, "signing-key.pem")
    path.write_bytes(ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    path.chmod(0o600)
    os.environ.pop("PORTAL_SIGNING_KEY", None)
    os.environ["PORTAL_SIGNING_KEY_FILE"] = str(path)


# -- measuring --------------------------------------------------------------------------------------

class Meter:
    """Time and count, per phase ("copy": the gate but image_attest, "attest": image_attest), spent
    in registry requests, SQL, signing and the SBOM; `phase` switches while image_attest runs."""

    def __init__(self):
        self.phase = None
        self.totals = defaultdict(lambda: [0, 0.0])  # (phase, what) -> [count, seconds]
        self.documents = []  # what image_attest signed last: [("dsse", statement) | ("simple", kwargs)]

    def add(self, what: str, seconds: float, count: int = 1) -> None:
        if self.phase is not None:
            entry = self.totals[self.phase, what]
            entry[0] += count
            entry[1] += seconds

    def sql(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.add("sql", time.perf_counter() - started)


METER = Meter()


def instrument() -> None:
    """Wrap the registry client's requests and the signing functions image_attest calls."""
    from adapters.registry import RegistryClient
    from compliance.attestations import services

    request, send = RegistryClient._request, RegistryClient._send

    def timed_request(self, method, *args, **kwargs):
        started = time.perf_counter()
        try:
            return request(self, method, *args, **kwargs)
        finally:
            METER.add("registry", time.perf_counter() - started, count=0)
            METER.add(f"registry {method}", time.perf_counter() - started)

    def counted_send(self, *args, **kwargs):
        METER.add("registry", 0.0)
        response = send(self, *args, **kwargs)
        if response.status_code == 401:
            METER.add("challenges", 0.0)
        return response

    RegistryClient._request, RegistryClient._send = timed_request, counted_send
    dsse_sign, simple_sign = services.dsse_sign, services.simple_sign

    def timed_dsse(document, key):
        METER.documents.append(("dsse", document))
        started = time.perf_counter()
        try:
            return dsse_sign(document, key)
        finally:
            METER.add("sign", time.perf_counter() - started)

    def timed_simple(**kwargs):
        METER.documents.append(("simple", {k: v for k, v in kwargs.items() if k != "key"}))
        started = time.perf_counter()
        try:
            return simple_sign(**kwargs)
        finally:
            METER.add("sign", time.perf_counter() - started)

    services.dsse_sign, services.simple_sign = timed_dsse, timed_simple
    scan_cyclonedx = services.scan_cyclonedx

    def timed_sbom(scan):
        started = time.perf_counter()
        try:
            return scan_cyclonedx(scan)
        finally:
            METER.add("sbom", time.perf_counter() - started)

    services.scan_cyclonedx = timed_sbom
    attachments_write = services.oci.attachments_write

    def timed_attach(*args, **kwargs):
        # the requests run in parallel: their summed times exceed the wall time this part takes
        started = time.perf_counter()
        try:
            return attachments_write(*args, **kwargs)
        finally:
            METER.add("attach", time.perf_counter() - started)

    services.oci.attachments_write = timed_attach


PROFILE = None  # a cProfile.Profile around image_attest with --profile


def variant_install(variant: str, samples: list) -> None:
    """The gate's image_attest as it is (A) or a no-op (B), and a timer around the pipeline's
    publication (the gate's image_publish) appending one sample per publication to `samples`."""
    from django.db import connection

    from builds.runner import pipeline
    from compliance import gate
    from compliance.attestations import services

    def attest(**kwargs):
        METER.phase = "attest"
        METER.documents.clear()
        started = time.perf_counter()
        try:
            if PROFILE is not None:
                return PROFILE.runcall(services.image_attest, **kwargs)
            return services.image_attest(**kwargs)
        finally:
            METER.add("total", time.perf_counter() - started)
            METER.phase = "copy"

    def publish(build, *, actor):
        METER.totals.clear()
        METER.phase = "copy"
        started = time.perf_counter()
        try:
            with connection.execute_wrapper(METER.sql):
                reference = gate.image_publish(build=build, actor=actor)
        finally:
            seconds = time.perf_counter() - started
            METER.phase = None
        attest_seconds = METER.totals["attest", "total"][1]
        METER.totals["copy", "total"] = [1, seconds - attest_seconds]
        samples.append({"seconds": seconds, "build": build.pk, "reference": reference,
                        "meter": {key: tuple(value) for key, value in METER.totals.items()}})
        return reference

    gate.image_attest = attest if variant == "A" else (lambda **kwargs: [])
    pipeline.build_publish = publish


# -- the builds --------------------------------------------------------------------------------------

def setup():
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from catalog.services import starter_catalog_load

    missing = [line for line in starter_catalog_load() if "NOT in the registry" in line]
    if missing:
        sys.exit("base images missing: " + "; ".join(missing) + " (run scripts/make-base-images.sh)")
    from tests.conftest import vulnerability_data_import  # the baseline records the tests import

    with tempfile.TemporaryDirectory() as folder:
        vulnerability_data_import(Path(folder))  # current data for Debian 12: the image can pass
    import builds.services
    from builds.runner.pipeline import build_run

    builds.services.build_dispatch = build_run  # no worker: each build runs here, once committed
    from tests.factories import TeamFactory, member_of

    team = TeamFactory(slug=TEAM, name="Bench attestations")
    return team, member_of(team, "bench-attestations")


def recipe_new(user, team, name: str):
    from builds.recipes.services import recipe_save
    from catalog.models import BaseImage, ComponentVersion

    choices = [(ComponentVersion.objects.filter(component__slug=slug).latest("created"), {}) for slug in COMPONENTS]
    return recipe_save(user=user, team=team, name=name, base=BaseImage.objects.get(slug="debian-12"), choices=choices)


def publication(user, team, name: str):
    """A new recipe of the seed's composition, built (reusing the seed image) and published."""
    from builds.models import Build
    from builds.services import build_request

    build = build_request(user=user, recipe=recipe_new(user, team, name))  # runs the pipeline here (see setup)
    build.refresh_from_db()
    if build.status != Build.Status.SUCCEEDED or not build.published_reference:
        tail = "".join(build.log_chunks.order_by("-seq").values_list("text", flat=True)[:3][::-1])
        sys.exit(f"build {build.pk} of {name}: {build.status} {build.error_message}\n{tail}")
    return build


# -- report ------------------------------------------------------------------------------------------

def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10, method="inclusive")[8] if len(values) > 1 else values[0]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.1f} ms"


def part(samples: list, phase: str, what: str, index: int) -> float:
    return statistics.median(s["meter"].get((phase, what), (0, 0.0))[index] for s in samples)


def breakdown(a: list, b: list) -> None:
    print("\nwhere the time goes, medians per publication (registry: HTTP round trips, of which 401 challenges):")
    print(f"  {'':34s} {'time':>10s} {'requests':>9s} {'401':>4s} {'SQL':>5s}")
    for label, samples, phase in (("B  gate without attestations", b, "copy"), ("A  gate but image_attest", a, "copy"),
                                  ("A  image_attest", a, "attest")):
        print(f"  {label:34s} {ms(part(samples, phase, 'total', 1))} {part(samples, phase, 'registry', 0):9.0f} "
              f"{part(samples, phase, 'challenges', 0):4.0f} {part(samples, phase, 'sql', 0):5.0f}")
    rows = []
    for sample in a:
        m = sample["meter"]
        spent = [m.get(("attest", what), (0, 0.0))[1] for what in ("sign", "attach", "sql", "sbom")]
        total = m[("attest", "total")][1]
        rows.append((*spent, total - sum(spent), total))
    *parts, total = (statistics.median(column) for column in zip(*rows))
    print("  image_attest split (medians of each part):")
    for label, seconds in zip(("signing in memory (3 dsse_sign, 1 simple_sign)", "registry writes (wall, parallel requests)",
                               "SQL", "SBOM (stored at scan: scan_cyclonedx)", "rest (predicates, bundles, JSON, Python)"), parts):
        print(f"    {label:48s} {ms(seconds)}  {seconds / total:5.1%}")
    methods = [f"{method} {part(a, 'attest', f'registry {method}', 0):.0f} in {part(a, 'attest', f'registry {method}', 1) * 1000:.0f} ms"
               for method in ("HEAD", "GET", "POST", "PUT")]
    print(f"  image_attest's registry requests by method (times summed over parallel requests): {', '.join(methods)}")


def signing_alone(repeat: int = 50) -> None:
    """The four signatures of the last A publication, made again in memory `repeat` times."""
    from compliance.attestations import envelopes
    from compliance.attestations.keyring import active_signer

    key, documents = active_signer(), list(METER.documents)
    sizes = [len(envelopes.canonical(d)) for kind, d in documents if kind == "dsse"]
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        for kind, document in documents:
            if kind == "dsse":
                envelopes.dsse_sign(document, key)
            else:
                envelopes.simple_sign(key=key, **document)
        times.append(time.perf_counter() - started)
    print(f"\nsigning alone, in memory, repeated {repeat}x: {ms(statistics.median(times))} median per publication "
          f"({len(documents)} signatures; statement payloads {', '.join(f'{s / 1024:.1f}' for s in sizes)} KiB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="publications of each variant (default 15)")
    parser.add_argument("--keep-db", action="store_true", help="keep the bench database for inspection")
    parser.add_argument("--profile", action="store_true",
                        help="also print image_attest's cProfile (A runs, slowed by the profiler)")
    args = parser.parse_args()
    if args.profile:
        import cProfile

        global PROFILE
        PROFILE = cProfile.Profile()
    stamp = f"{int(time.time()) % 10**8:08d}"  # fresh repositories on every run of the bench
    database_recreate()
    with tempfile.TemporaryDirectory() as folder:
        signing_key_file(folder)
        try:
            run(args, stamp)
        finally:
            cleanup(args.keep_db)


def run(args, stamp: str) -> None:
    team, user = setup()
    instrument()
    samples = {"A": [], "B": []}
    started = time.monotonic()
    variant_install("A", [])
    # Two recipes use wget from here on, so it gets a shared layer (builds/compose/shared_layers.py) in
    # every build of the run: one composition, which the pipeline reuses.
    recipe_new(user, team, f"twin-{stamp}")
    seed = publication(user, team, f"seed-{stamp}")
    print(f"seed build (Debian 12 + {' + '.join(COMPONENTS)}, built, pushed, scanned, published): "
          f"{time.monotonic() - started:.1f} s; {seed.scan.packages.count()} packages")
    for variant in "AB":  # warm-up: connections, tokens, caches; not counted
        variant_install(variant, [])
        build = publication(user, team, f"warm-{stamp}-{variant.lower()}")
        assert build.reused_from_id, "the bench relies on the pipeline reusing the seed image (same composition)"
    for number in range(args.runs):
        for variant in ("AB" if number % 2 == 0 else "BA"):
            variant_install(variant, samples[variant])
            publication(user, team, f"r{stamp}-{number:03d}-{variant.lower()}")
    if PROFILE is not None:
        PROFILE.disable()
    report(samples, args.runs)
    if PROFILE is not None:
        import pstats

        print("\nimage_attest under cProfile (every A publication, seed and warm-up included; A's times above include the profiler):")
        pstats.Stats(PROFILE, stream=sys.stdout).sort_stats("cumulative").print_stats(30)


def report(samples: dict, runs: int) -> None:
    from compliance.attestations.verification import reference_verify
    from compliance.models import Attestation

    a, b = ([s["seconds"] for s in samples[v]] for v in "AB")
    kinds = sorted(Attestation.objects.filter(build_id=samples["A"][-1]["build"]).values_list("kind", flat=True))
    assert not Attestation.objects.filter(build_id__in=[s["build"] for s in samples["B"]]).exists()
    verified = reference_verify(samples["A"][-1]["reference"])
    print(f"\n{runs} publications of each, alternating; the gate's image_publish, real registry:")
    print(f"  A with attestations     median {ms(statistics.median(a))}   p90 {ms(p90(a))}   "
          f"min {ms(min(a))}   max {ms(max(a))}")
    print(f"  B image_attest a no-op  median {ms(statistics.median(b))}   p90 {ms(p90(b))}   "
          f"min {ms(min(b))}   max {ms(max(b))}")
    added = statistics.median(a) - statistics.median(b)
    print(f"  ratio A/B (medians): {statistics.median(a) / statistics.median(b):.2f}x; p90s {p90(a) / p90(b):.2f}x")
    print(f"  attestations add {added * 1000:.1f} ms median per publication (target <= 100 ms: "
          f"{'met' if added <= 0.100 else 'NOT met'}); paired A-B median "
          f"{statistics.median(x - y for x, y in zip(a, b)) * 1000:.1f} ms")
    print(f"  last A publication: rows {', '.join(kinds)}; reference_verify: "
          f"{'verified' if verified.verified else 'NOT verified: ' + '; '.join(verified.reasons)}")
    breakdown(samples["A"], samples["B"])
    signing_alone()


def cleanup(keep_db: bool) -> None:
    try:
        import redis

        redis.Redis.from_url(os.environ["CELERY_BROKER_URL"]).flushdb()  # the bench's own Redis database
    except Exception as error:  # cleanup reports and goes on
        print(f"could not empty {os.environ['CELERY_BROKER_URL']}: {error}")
    try:
        from django.db import connections

        connections.close_all()
    except Exception:  # Django is not set up when the setup failed early
        pass
    if not keep_db:
        psql(f'drop database if exists "{database_name()}" with (force)')
    print(f"database {database_name()} {'kept' if keep_db else 'dropped'}; registry repositories "
          f"quarantine|published/{TEAM}/* left")


if __name__ == "__main__":
    main()
