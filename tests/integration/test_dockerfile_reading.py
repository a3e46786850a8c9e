"""The checks of a team's own Dockerfile read the instructions the Docker Engine will run.

dockerfile_resolve checks what dockerfile-parse finds; the engine builds with its own parser (Go).
Each case here is read by both, the engine's reading taken from the real engine's Step lines: a
Dockerfile the two read alike must be accepted, and one they read differently must be refused,
or an instruction could run that no check saw (a line ending in "\\" and a no-break space hides
the next line from the checks, and the engine runs it: an `ADD <url>`, a `FROM` of any image).
Harmless LABEL lines stand in for the hidden instructions. Nothing runs: LABEL, ENV and FROM of
an empty local image start no container."""
import io
import re
import tarfile

import docker
import pytest
from dockerfile_parse import DockerfileParser

from builds.dockerfile.resolve import DockerfileRefused, dockerfile_resolve
from tests.builds.dockerfile.test_resolve import CONTEXT

pytestmark = pytest.mark.integration

PROBE = "portal-parse-probe:empty"
STEP = re.compile(r"^Step \d+/\d+ : (\S+)")
NBSP, NEL = "\u00a0", "\u0085"

# (name, text with {base}, whether the engine reads it as dockerfile-parse does)
CASES = [
    ("plain continuation", "FROM {base}\nLABEL a=1 \\\n  b=2\nLABEL c=3\n", True),
    ("spaces after the escape", "FROM {base}\nLABEL a=1 \\  \t\n  b=2\n", True),
    ("comment inside a continuation", "FROM {base}\nLABEL a=1 \\\n  # note\n  b=2\n", True),
    ("escape directive on the first line", "# escape=`\nFROM {base}\nLABEL a=1 `\n  b=2\n", True),
    ("byte order mark before the directive", "\ufeff# escape=`\nFROM {base}\nLABEL a=1 `\n  b=2\n", True),
    ("no-break space inside a quoted value", f"FROM {{base}}\nLABEL a=\"x{NBSP}y\"\n", True),
    ("no-break space after the escape", f"FROM {{base}}\nLABEL a=1 \\{NBSP}\nLABEL hidden=1\n", False),
    ("next line after the escape", f"FROM {{base}}\nLABEL a=1 \\{NEL}\nLABEL hidden=1\n", False),
    ("directive with a no-break space", f"#{NBSP}escape=`\nFROM {{base}}\nLABEL a=1 `\nLABEL hidden=1\n", False),
    ("directive after an empty syntax one", "# syntax=\n# escape=`\nFROM {base}\nLABEL a=1 `\nLABEL hidden=1\n", False),
    ("blank line inside a continuation", "FROM {base}\nLABEL a=1 \\\n\nLABEL hidden=1\n", False),
    ("spaces-only line inside a continuation", "FROM {base}\nLABEL a=1 \\\n   \nLABEL hidden=1\n", False),
]


@pytest.fixture(scope="module")
def engine(services):
    api = docker.APIClient(version="auto", timeout=60)
    empty = io.BytesIO()
    tarfile.open(fileobj=empty, mode="w").close()
    api.import_image_from_data(empty.getvalue(), repository=PROBE.split(":")[0], tag=PROBE.split(":")[1])
    yield api
    api.remove_image(PROBE, force=True)
    api.close()


def engine_reading(api, text: str) -> list[str] | str:
    """The instructions the engine reads, by their keywords, or its error when it cannot read them."""
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        data = text.encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    keywords, image, error = [], None, None
    try:
        for event in api.build(fileobj=io.BytesIO(context.getvalue()), custom_context=True, decode=True, rm=True,
                               forcerm=True, nocache=True, pull=False):
            for line in event.get("stream", "").splitlines():
                if step := STEP.match(line):
                    keywords.append(step.group(1).upper())
            image = event.get("aux", {}).get("ID", image)
            error = event.get("error", error)
    except docker.errors.APIError as refused:  # what it cannot parse, it answers before building
        error = refused.explanation
    if image:
        api.remove_image(image, force=True)
    return error.strip() if error else keywords


def checked_reading(text: str) -> list[str]:
    """The instructions dockerfile-parse finds, as dockerfile_resolve checks them."""
    parser = DockerfileParser(fileobj=io.BytesIO(text.removeprefix("\ufeff").encode()))
    return [i["instruction"] for i in parser.structure if i["instruction"] != "COMMENT"]


@pytest.mark.parametrize("name, text, alike", CASES, ids=[case[0] for case in CASES])
def test_a_dockerfile_is_accepted_only_when_the_engine_reads_the_instructions_the_checks_saw(engine, name, text, alike):
    engine_sees = engine_reading(engine, text.format(base=PROBE))
    assert (engine_sees == checked_reading(text.format(base=PROBE))) is alike, engine_sees
    try:
        dockerfile_resolve(text.format(base="base/busybox:1.35"), build_args={}, context=CONTEXT)
        accepted = True
    except DockerfileRefused as refused:
        accepted, reason = False, str(refused)
    assert accepted is alike, None if accepted else reason
