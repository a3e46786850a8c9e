"""Time a Debian wget build through the portal next to a plain `docker build` of the same Dockerfile.

Both run on the same engine with no layer cache, alternating, so machine noise hits both alike.
The portal's time runs from build_request to the finished build (build + push to the registry +
SBOM scan + policy + publication; a baseline vulnerability record is imported first so that the
images are assessed, pass and are published); each step's median is printed, and the build step's overhead over
the plain `docker build` (queueing, context, log storage, heartbeat) is shown as a ratio.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_bench \
    CELERY_BROKER_URL=redis://127.0.0.1:6379/0 .venv/bin/python bench/portal_vs_docker_build.py --rounds 3

Needs `make services base-images`. It creates the bench database if missing.
"""
import argparse
import datetime
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/portal_bench")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")


def database_create():
    url = os.environ["DATABASE_URL"]
    name = url.rsplit("/", 1)[1]
    exists = subprocess.run(["psql", url.rsplit("/", 1)[0] + "/postgres", "-Atc",
                             f"select 1 from pg_database where datname='{name}'"], capture_output=True, text=True)
    if exists.stdout.strip() != "1":
        subprocess.run(["psql", url.rsplit("/", 1)[0] + "/postgres", "-c", f'create database "{name}"'], check=True)


def signing_key_set() -> None:
    """A signing key of the bench's own (the gate publishes only what it can sign), read by the
    settings at django.setup() and by the worker, which inherits the environment. Kept between runs:
    the bench database remembers the active key, and publishes only with that one."""
    from compliance.attestations.keys import signing_key_generate

    path = Path(tempfile.gettempdir(), "portal-bench-signing-key.pem")
    if not path.exists():
        path.write_bytes(signing_key_generate().private_pem())
        path.chmod(0o600)
    os.environ.pop("PORTAL_SIGNING_KEY", None)
    os.environ["PORTAL_SIGNING_KEY_FILE"] = str(path)


def setup():
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from catalog.services import starter_catalog_load
    from tests.conftest import vulnerability_data_import

    starter_catalog_load()
    # Current vulnerability data for Debian 12 (one record no image has): the images are assessed and
    # pass, so each build runs to publication as a team's would; without data they are blocked.
    with tempfile.TemporaryDirectory() as folder:
        vulnerability_data_import(Path(folder))


def recipe_get():
    from builds.models import Recipe
    from builds.recipes.services import recipe_save
    from catalog.models import BaseImage, ComponentVersion
    from tests.factories import TeamFactory, member_of

    team = TeamFactory(slug="bench", name="Bench")
    user = member_of(team, "bench-user")
    recipe = Recipe.objects.filter(team=team, name="wget").first()
    if recipe is None:
        choices = [(ComponentVersion.objects.filter(component__slug=s).latest("created"), {}) for s in ("wget", "runtime-user")]
        recipe = recipe_save(user=user, team=team, name="wget", base=BaseImage.objects.get(slug="debian-12"), choices=choices)
    return user, recipe


def recipe_twin(user, recipe, n):
    """Another recipe of the team with the same choices: the identical composition, its own repositories."""
    from builds.models import Recipe
    from builds.recipes.services import recipe_save

    name = f"wget-twin-{n}"
    while Recipe.objects.filter(team=recipe.team, name=name).exists():  # a new recipe each run (its first publication)
        name += "x"
    choices = [(choice.version, choice.values) for choice in recipe.choices.select_related("version")]
    return recipe_save(user=user, team=recipe.team, name=name, base=recipe.base, choices=choices)


def worker_start():
    log = open(tempfile.gettempdir() + "/bench-worker.log", "w")
    process = subprocess.Popen([sys.executable, "-m", "celery", "-A", "portal", "worker", "-Q", "builds,scans,default",
                                "--concurrency", "1", "--loglevel", "WARNING", "--hostname", "bench@%h"],
                               cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    from portal.celery import app

    deadline = time.monotonic() + 60
    while not app.control.ping(timeout=1.0):
        if time.monotonic() > deadline or process.poll() is not None:
            sys.exit("worker did not start; see " + log.name)
    return process


def portal_build(user, recipe, no_cache=True):
    from builds.models import Build
    from builds.services import build_request

    started = time.monotonic()
    build = build_request(user=user, recipe=recipe, no_cache=no_cache)
    while True:
        build.refresh_from_db()
        if build.is_done:
            break
        time.sleep(0.02)  # fine enough for the reuse figures, which are well under a second
    total = time.monotonic() - started
    if getattr(build, "answered_by_existing", False):  # an earlier build: its step times are not this request's
        return total, 0.0, build
    if build.status != Build.Status.SUCCEEDED:
        sys.exit(f"portal build {build.pk} {build.status}: {build.error_message}")
    build.step_seconds = step_seconds(build)
    build.step_seconds["queue and start"] = (datetime.datetime.fromisoformat(build.steps["build"]["started"])
                                            - build.created).total_seconds()
    return total, build.step_seconds["build"], build


def step_seconds(build) -> dict:
    """Seconds per pipeline step, from the times the worker recorded on the Build row."""
    result = {}
    for name, step in build.steps.items():
        if step.get("started") and step.get("finished"):
            result[name] = (datetime.datetime.fromisoformat(step["finished"])
                            - datetime.datetime.fromisoformat(step["started"])).total_seconds()
    return result


def plain_build(build):
    with tempfile.TemporaryDirectory() as context:
        Path(context, "Dockerfile").write_text(build.dockerfile)
        for path, text in build.context_files.items():
            Path(context, path).parent.mkdir(parents=True, exist_ok=True)
            Path(context, path).write_text(text)
        started = time.monotonic()
        subprocess.run(["docker", "build", "--no-cache", "-q", "-t", "bench-plain:latest", context],
                       check=True, capture_output=True, env={**os.environ, "DOCKER_BUILDKIT": "0"})
        return time.monotonic() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    database_create()
    signing_key_set()
    setup()
    user, recipe = recipe_get()
    worker = worker_start()
    rows, steps = [], []
    try:
        portal_build(user, recipe)  # warm-up: base image layers and apt mirror connections
        for round_number in range(args.rounds):
            if round_number % 2 == 0:
                total, build_only, build = portal_build(user, recipe)
                plain = plain_build(build)
            else:
                plain = plain_build(build)
                total, build_only, build = portal_build(user, recipe)
            rows.append((total, build_only, plain))
            steps.append(build.step_seconds)
            print(f"round {round_number + 1}: portal {total:.1f} s (build step {build_only:.1f} s), plain docker build {plain:.1f} s")
        answered = [portal_build(user, recipe, no_cache=False) for _ in range(max(5, args.rounds))]
        assert all(b.answered_by_existing for _, _, b in answered), "the published build should answer"
        # The first twin is built (two recipes needing wget on one base give it a shared layer of its
        # own, which changes the composition); the next ones have its identical composition.
        portal_build(user, recipe_twin(user, recipe, 0), no_cache=False)
        reused = [portal_build(user, recipe_twin(user, recipe, n), no_cache=False) for n in range(1, args.rounds + 1)]
        assert all(b.reused_from_id for _, _, b in reused), "identical compositions should reuse the image"
        # A team's first build of a new image: a new recipe, so new repositories, built without cache
        # as the plain build is (last: new recipes change no composition measured above).
        fresh = [portal_build(user, recipe_twin(user, recipe, 100 + n)) for n in range(args.rounds)]
    finally:
        worker.terminate()
        worker.wait(timeout=60)
    total, build_only, plain = (statistics.median(column) for column in zip(*rows))
    print(f"median over {len(rows)} rounds: portal {total:.1f} s, build step {build_only:.1f} s, plain {plain:.1f} s")
    print(f"ratio portal end-to-end / plain docker build: {total / plain:.2f}x")
    print(f"ratio portal build step / plain docker build: {build_only / plain:.2f}x "
          f"(overhead {build_only - plain:+.1f} s per build)")
    print("per-step medians of the portal build:")
    for name in ["queue and start", "build", "push", "scan", "policy", "publish"]:
        values = [s[name] for s in steps if name in s]
        if values:
            print(f"  {name:16s} {statistics.median(values):6.2f} s")
    print("the portal's extra time is the push to the registry, the SBOM scan, the policy and the publication copy")
    fresh_total = statistics.median(t for t, _, _ in fresh)
    fresh_push = statistics.median(b.step_seconds.get("push", 0) for _, _, b in fresh)
    print(f"a new recipe's first build (new repositories, no cache): {fresh_total:.1f} s, push {fresh_push:.2f} s; "
          f"/ plain docker build: {fresh_total / plain:.2f}x")
    again = statistics.median(t for t, _, _ in answered)
    print(f"identical composition submitted again: {again * 1000:.1f} ms to the published image (answered by the "
          f"recipe's published build, no worker; fresh build {total:.1f} s: {total / again:.0f}x faster)")
    twin = statistics.median(t for t, _, _ in reused)
    print(f"identical composition in another recipe: {twin:.2f} s to a published image (a worker copies the image "
          f"into the recipe's repositories, reuses the SBOM, evaluates and publishes it; {total / twin:.1f}x faster)")


if __name__ == "__main__":
    main()
