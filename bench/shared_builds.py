"""Benchmark 1 of issue 4: 20 overlapping Debian recipes, portal composition vs naive Dockerfiles.

The recipes draw 2-3 apt components (wget, curl, time zone, company CA, JRE) plus the runtime user
from the starter catalog, in a random (seeded) user order. Each is built once per variant, same engine:
  naive   one Dockerfile per recipe with each component's fragment in the user's order, no proxy;
  portal  the portal's composer (canonical order, merged apt transactions) through its engine code,
          with the package cache as the http_proxy build arg;
  portal-direct (with --variants) the same composition without the cache, to tell the two apart;
  portal-flat   (with --variants) the portal with the cache but without the popular packages' own
                layers (builds/compose/shared_layers.py): one apt transaction per tier, as before them;
  portal-update (with --variants) the portal without the shared package lists (builds/runner/apt_index.py):
                every apt transaction runs its own apt-get update.
The variants take turns recipe by recipe (rotating who goes first) so machine noise hits all alike.
Each variant of each round builds FROM its own copy of the base (a LABEL-only image), so no layer is shared across
variants or rounds: every variant starts from an empty layer cache for its own images.
Round 1 ("cold") starts the bench's own apt-cacher-ng with an empty cache directory; round 2 ("warm")
reuses that cache with fresh layer caches again. All images carry the label
io.image-portal.bench=shared and are removed at the end.

    .venv/bin/python bench/shared_builds.py [--recipes 20] [--rounds 2] [--seed 4] [--variants naive,portal,portal-direct]

Needs scripts/ensure-services.sh (dockerd, apt-cacher-ng) and scripts/make-base-images.sh.
"""
import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

LABEL = "io.image-portal.bench"
BASE = os.environ.get("PORTAL_REGISTRY", "127.0.0.1:5000") + "/base/debian:bookworm"
APT_POOL = ["wget", "curl", "timezone", "ca-certificate", "jre"]
ZONES = ["Europe/Paris", "Asia/Shanghai", "America/New_York"]
CACHE_PORT = 3143  # the bench's own apt-cacher-ng, so "cold" really is empty


def site_ca() -> str:
    """One self-signed CA for every recipe, as a site would have."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Bench Site CA")])
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=3650))
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                   .sign(key, hashes.SHA256()))
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def choice_of(slug: str, values: dict):
    from builds.compose.composer import ComponentChoice
    from catalog.starter import COMPONENTS

    component = next(c for c in COMPONENTS if c["slug"] == slug)
    version = component["versions"][0]
    return ComponentChoice(
        slug=slug, name=component["name"], kind=component["kind"], version=version["version"],
        order_weight=component["order_weight"], fragment=version["fragment"],
        final_fragment=version.get("final_fragment", ""), parameters=tuple(version.get("parameters", ())),
        values=values, requires=tuple(version.get("requires", ())), os_families=tuple(version["os_families"]))


def recipes_draw(count: int, seed: int) -> list[list]:
    """Each recipe: components in the order the user ticked them."""
    rng = random.Random(seed)
    pem = site_ca()
    recipes = []
    for _ in range(count):
        slugs = rng.sample(APT_POOL, rng.choice([2, 3])) + ["runtime-user"]
        rng.shuffle(slugs)
        values = {"timezone": {"zone": rng.choice(ZONES)}, "ca-certificate": {"certificate": pem},
                  "runtime-user": {"uid": "10001"}}
        recipes.append([choice_of(s, values.get(s, {})) for s in slugs])
    return recipes


def naive_files(base: str, choices) -> dict[str, bytes]:
    """What a user writes by hand: each fragment as the catalog has it, in the order ticked."""
    from builds.compose.composer import _render
    from catalog.parameters import parameters_clean

    files: dict[str, bytes] = {}
    body, final = [f"FROM {base}"], []
    for choice in choices:
        values, _ = parameters_clean(list(choice.parameters), choice.values)
        body.append(_render(choice, choice.fragment, values, files))
        if choice.final_fragment:
            final.append(_render(choice, choice.final_fragment, values, files))
    files["Dockerfile"] = ("\n".join(body + final) + "\n").encode()
    return files


def shared_packages(recipes) -> tuple[str, ...]:
    """What the portal computes from its recipes on the base (builds/compose/shared_layers.py), here the bench's."""
    from django.conf import settings

    from builds.compose.shared_layers import fragment_packages, popular_packages

    return popular_packages([[p for c in choices for p in fragment_packages(c.fragment)] for choices in recipes],
                            settings.SHARED_APT_LAYERS)


def portal_files(base: str, choices, shared: tuple[str, ...] = (), index: bool = True) -> dict[str, bytes]:
    """As a worker builds it: the composition, then (index=True) the shared package lists (builds/runner/apt_index.py),
    fetched on the first build of each base and counted in that build's time."""
    from builds.compose.composer import RecipeSnapshot, compose
    from builds.runner.apt_index import apt_index_apply

    composition = compose(RecipeSnapshot(base_reference=base, base_os_family="debian", components=tuple(choices),
                                         shared_packages=shared))
    files = dict(composition.context_files)
    dockerfile = apt_index_apply(composition.dockerfile, files, lambda line: None) if index else composition.dockerfile
    return {"Dockerfile": dockerfile.encode(), **files}


def engine_build(make_files, tag: str, build_args: dict, build_id: int) -> tuple[float, int, int]:
    """Through the portal's engine code; returns (seconds, steps run, steps taken from the cache).
    Every build gets its own build label, as in the portal, so its last step is never a cache hit."""
    from adapters.engine import context_tar, image_build

    lines = []
    started = time.monotonic()
    files = make_files()  # inside the timing: the worker's share of the composition (lists fetch) counts
    image_build(context=context_tar(files), tag=tag, build_id=build_id, on_line=lines.append,
                deadline_seconds=3600, buildargs=build_args)
    seconds = time.monotonic() - started
    return seconds, sum("---> Running in" in line for line in lines), sum("---> Using cache" in line for line in lines)


def docker(*args, check=True) -> str:
    return subprocess.run(["docker", *args], check=check, capture_output=True, text=True).stdout.strip()


def bench_base(name: str) -> str:
    """A LABEL-only copy of the Debian base: same files, its own id, so its layer cache is its own."""
    with tempfile.TemporaryDirectory() as context:
        Path(context, "Dockerfile").write_text(f"FROM {BASE}\nLABEL {LABEL}=shared {LABEL}.base={name}\n")
        subprocess.run(["docker", "build", "-q", "-t", f"bench-shared-base:{name}", context], check=True,
                       capture_output=True, env={**os.environ, "DOCKER_BUILDKIT": "0"})
    return f"bench-shared-base:{name}"


def bench_images_remove() -> None:
    """Only this bench's images: tags first (pruning their untagged chains), then whatever is left."""
    tags = [t for t in docker("images", "--filter", f"label={LABEL}=shared", "--format", "{{.Repository}}:{{.Tag}}").splitlines()
            if t.startswith("bench-shared")]
    tags.sort(key=lambda t: t.startswith("bench-shared-base"))  # recipe images before their bases
    for tag in tags:
        docker("rmi", tag, check=False)
    leftovers = docker("images", "-q", "--filter", f"label={LABEL}=shared", "--filter", "dangling=true").splitlines()
    if leftovers:
        docker("rmi", *leftovers, check=False)


def cache_start(workdir: str) -> tuple[subprocess.Popen, str]:
    # The default bridge's gateway is not in its IPAM config on Docker 20.10: read docker0 itself.
    bridge = subprocess.run(["ip", "-4", "-o", "addr", "show", "docker0"], check=True, capture_output=True,
                            text=True).stdout.split()[3].split("/")[0]
    if not shutil.which("apt-cacher-ng") and not Path("/usr/sbin/apt-cacher-ng").exists():
        sys.exit("apt-cacher-ng is not installed: run scripts/ensure-services.sh")
    for sub in ("cache", "log"):
        Path(workdir, sub).mkdir()
    Path(workdir, "acng.conf").write_text(
        f"CacheDir: {workdir}/cache\nLogDir: {workdir}/log\nSupportDir: /usr/lib/apt-cacher-ng\n"
        f"Port: {CACHE_PORT}\nBindAddress: {bridge}\nExThreshold: 4\nVfilePatternEx: .*\n")  # as ensure-services.sh
    process = subprocess.Popen(["/usr/sbin/apt-cacher-ng", "-c", workdir, "foreground=1", f"pidfile={workdir}/pid",
                                f"SocketPath={workdir}/socket"], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"http://{bridge}:{CACHE_PORT}"
    from builds.runner.build_network import proxy_answers

    deadline = time.monotonic() + 15
    while proxy_answers(url, 1.0):
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            sys.exit(f"the bench's apt-cacher-ng did not answer at {url}; see {workdir}/log")
        time.sleep(0.2)
    return process, url


def round_run(number: int, label: str, recipes, proxy: str, variants: list[str]) -> dict:
    """One round: every recipe in every variant, rotating which variant goes first."""
    bases = {variant: bench_base(f"{variant}-{number}") for variant in variants}
    shared = shared_packages(recipes)
    with_shared = partial(portal_files, shared=shared)
    makers = {"naive": (naive_files, {}), "portal": (with_shared, {"http_proxy": proxy}),
              "portal-direct": (with_shared, {}),  # no package cache
              "portal-flat": (portal_files, {"http_proxy": proxy}),  # one apt transaction per tier, no shared layers
              "portal-update": (partial(with_shared, index=False), {"http_proxy": proxy})}  # apt-get update every time
    totals = {variant: [0.0, 0, 0] for variant in variants}
    for index, choices in enumerate(recipes):
        shift = index % len(variants)
        for position, variant in enumerate(variants[shift:] + variants[:shift]):
            make, args = makers[variant]
            build_id = number * 1000 + index * 10 + variants.index(variant)
            seconds, ran, cached = engine_build(partial(make, bases[variant], choices),
                                                f"bench-shared-{variant}-{number}:{index}", args, build_id)
            for column, value in enumerate((seconds, ran, cached)):
                totals[variant][column] += value
        running = "  ".join(f"{v} {totals[v][0]:7.1f} s" for v in variants)
        print(f"  {label} recipe {index + 1:2d} {'+'.join(c.slug for c in choices):45s} {running} (running totals)",
              flush=True)
    bench_images_remove()
    return totals


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipes", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2, help="1: cold only; 2: cold then warm package cache")
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--variants", default="naive,portal",
                        help="naive, portal (composition + package cache), portal-direct (composition only), "
                             "portal-flat (without the shared package layers), "
                             "portal-update (without the shared package lists: apt-get update in every transaction)")
    args = parser.parse_args()
    variants = args.variants.split(",")
    import django

    django.setup()
    os.environ["DOCKER_BUILDKIT"] = "0"
    recipes = recipes_draw(args.recipes, args.seed)
    distinct = len({tuple(sorted(c.slug for c in r)) for r in recipes})
    print(f"{len(recipes)} recipes, {distinct} distinct component sets; base {BASE}; "
          f"packages with a shared layer: {', '.join(shared_packages(recipes)) or 'none'}")
    bench_images_remove()
    workdir = tempfile.mkdtemp(prefix="bench-acng-")
    cache, proxy = cache_start(workdir)
    results = []
    try:
        for number in range(1, args.rounds + 1):
            label = "cold" if number == 1 else "warm"
            results.append((label, round_run(number, label, recipes, proxy, variants)))
    finally:
        cache.terminate()
        cache.wait(timeout=30)
        bench_images_remove()
        shutil.rmtree(workdir, ignore_errors=True)
    for label, totals in results:
        naive = totals.get("naive")
        for variant, (seconds, ran, cached) in totals.items():
            ratio = f"; naive/{variant} {naive[0] / seconds:.2f}x (target 2.5x)" if naive and variant != "naive" else ""
            print(f"{label} package cache: {variant:13s} {seconds:7.1f} s, {ran} steps run, "
                  f"{cached} taken from the layer cache{ratio}")


if __name__ == "__main__":
    main()
