"""FROM resolution of a team's own Dockerfile: pure, no database, no Docker."""
import pytest

from builds.dockerfile.image_reference import CatalogBase, reference_parse
from builds.dockerfile.resolve import DockerfileRefused, ResolveContext, dockerfile_resolve

HOST = "127.0.0.1:5000"
BUSYBOX_DIGEST = "sha256:" + "b" * 64
DEBIAN_DIGEST = "sha256:" + "d" * 64
PENDING_DIGEST = "sha256:" + "e" * 64
BUSYBOX = f"{HOST}/base/busybox@{BUSYBOX_DIGEST}"
DEBIAN = f"{HOST}/base/debian@{DEBIAN_DIGEST}"
CATALOG = [
    CatalogBase("busybox", "base/busybox", "1.35", BUSYBOX_DIGEST, True),
    CatalogBase("debian-12", "base/debian", "bookworm", DEBIAN_DIGEST, True),
    CatalogBase("team-java", "published/payments/java", "7", PENDING_DIGEST, False, "pending review"),
]
CONTEXT = ResolveContext(bases=CATALOG, registry_host=HOST, platform="linux/amd64", max_bytes=4096)


def resolve(text, **build_args):
    return dockerfile_resolve(text, build_args=build_args, context=CONTEXT)


def refusal(text, **build_args) -> dict[int, str]:
    with pytest.raises(DockerfileRefused) as refused:
        resolve(text, **build_args)
    return {e.line: e.message for e in refused.value.errors}


@pytest.mark.parametrize("source", [
    "base/busybox:1.35", f"{HOST}/base/busybox:1.35", f"base/busybox@{BUSYBOX_DIGEST}",
    f"{HOST}/base/busybox:1.35@{BUSYBOX_DIGEST}",
])
def test_it_pins_an_approved_base_named_by_tag_or_digest(source):
    resolved = resolve(f"FROM {source}\nUSER 10001\n")
    assert resolved.dockerfile == f"FROM {BUSYBOX}\nUSER 10001\n"
    assert resolved.bases == ("busybox",) and resolved.final_base_slug == "busybox"


def test_it_substitutes_args_declared_before_from_with_defaults_and_build_args():
    text = "ARG REPO=base/busybox\nARG TAG\nFROM ${REPO}:$TAG AS app\nRUN true\n"
    assert resolve(text, TAG="1.35").dockerfile.splitlines()[2] == f"FROM {BUSYBOX} AS app"
    with_default = "ARG TAG\nFROM base/debian:${TAG:-bookworm}\n"
    assert resolve(with_default).dockerfile.splitlines()[1] == f"FROM {DEBIAN}"
    chained = "ARG NAME=debian\nARG REPO=base/${NAME}\nFROM $REPO:bookworm\n"
    assert resolve(chained).final_base_slug == "debian-12"


def test_it_refuses_an_arg_nobody_set_and_one_never_declared():
    assert "no default and no build argument TAG" in refusal("ARG TAG\nFROM base/busybox:$TAG\n")[2]
    assert "not declared by an ARG before the first FROM" in refusal("FROM base/busybox:${VERSION}\n")[1]
    # an ARG declared inside a stage is not visible to a later FROM (Docker's scoping)
    late = "FROM base/busybox:1.35\nARG TAG=bookworm\nFROM base/debian:$TAG\n"
    assert "not declared" in refusal(late)[3]
    assert "not declared by any ARG" in refusal("FROM base/busybox:1.35\n", UNUSED="x")[0]


def test_it_follows_multi_stage_references_and_copy_from():
    text = (
        "FROM base/debian:bookworm AS Builder\n"
        "RUN echo built > /out\n"
        "FROM builder AS tested\n"
        "FROM base/busybox:1.35\n"
        "COPY --from=builder /out /out\n"
        "COPY --from=1 /out /again\n"
        "COPY --from=base/debian:bookworm /etc/os-release /debian-release\n"
        "USER 10001\n"
    )
    resolved = resolve(text)
    lines = resolved.dockerfile.splitlines()
    assert lines[0] == f"FROM {DEBIAN} AS Builder"
    assert lines[2] == "FROM builder AS tested"
    assert lines[3] == f"FROM {BUSYBOX}"
    assert lines[4] == "COPY --from=builder /out /out"
    assert lines[6] == f"COPY --from={DEBIAN} /etc/os-release /debian-release"
    assert [(s.name, s.base_slug) for s in resolved.stages] == [("builder", "debian-12"), ("tested", "debian-12"), ("", "busybox")]
    assert resolved.bases == ("debian-12", "busybox") and resolved.final_base_slug == "busybox"


def test_it_refuses_unapproved_and_pending_images_per_line():
    errors = refusal("FROM base/busybox:1.35 AS a\nFROM nginx:latest\nFROM published/payments/java:7\nFROM evil.example/base/busybox:1.35\n")
    assert set(errors) == {2, 3, 4}
    assert "nginx:latest is not an approved base image; approved: base/busybox:1.35, base/debian:bookworm" in errors[2]
    assert "pending review" in errors[3]
    assert "only the portal's registry" in errors[4]
    assert "not an approved base" in refusal("FROM base/busybox\n")[1], "no tag means latest, which is not in the catalog"
    assert "different images" in refusal(f"FROM base/busybox:9.9@{BUSYBOX_DIGEST}\n")[1]
    assert "not an approved base" in refusal(f"FROM base/busybox@sha256:{'0' * 64}\n")[1]


def test_it_refuses_copy_from_an_unapproved_image_or_a_later_stage():
    errors = refusal("FROM base/busybox:1.35\nCOPY --from=alpine:3 /bin/sh /sh\nCOPY --from=3 /a /b\nCOPY --from=$X /a /b\n")
    assert "COPY --from: alpine:3 is not an approved base image" in errors[2]
    assert "no earlier stage" in errors[3]
    assert "ARG substitution" in errors[4]


def test_it_refuses_scratch_platforms_urls_and_buildkit_flags():
    errors = refusal(
        "FROM scratch\n"
        "FROM --platform=linux/arm64 base/busybox:1.35\n"
        "ADD https://example.com/tool.tgz /opt/\n"
        'ADD ["http://example.com/a", "/a"]\n'
        "RUN --mount=type=cache,target=/root/.cache true\n"
        "ONBUILD ADD http://example.com/x /x\n"
        "ADD git@github.com:org/repo.git /src\n"
    )
    assert "FROM scratch is not accepted" in errors[1]
    assert "not the build engine's platform (linux/amd64)" in errors[2]
    assert all("downloads at build time" in errors[n] for n in (3, 4, 7))
    assert "ONBUILD is not accepted" in errors[6]
    assert "needs BuildKit" in errors[5]
    same = resolve("FROM --platform=linux/amd64 base/busybox:1.35\n")
    assert same.dockerfile == f"FROM {BUSYBOX}\n", "the engine's own platform is accepted and dropped"


def test_it_keeps_line_numbers_when_a_from_spans_lines():
    resolved = resolve("FROM \\\n  base/busybox:1.35 \\\n  AS app\nUSER 10001\n")
    assert resolved.dockerfile.splitlines() == [f"FROM {BUSYBOX} AS app", "", "", "USER 10001"]


@pytest.mark.parametrize("text, message", [
    ("x" * 5000, "the limit is 4,096"),
    ("", "empty"),
    ("FROM base/busybox:1.35\nRUN echo \x00\n", "control character"),
    ("RUN true\nFROM base/busybox:1.35\n", "before the first FROM"),
    ("ARG A=1\n", "no FROM line"),
    ("FROM base/busybox:1.35 AS a AS b\n", "optional 'AS name'"),
    ("FROM base/busybox:1.35 AS a\nFROM base/busybox:1.35 AS A\n", "used twice"),
    ("FROM base/busybox:1.35 AS 'x;rm'\n", "stage name"),
    ("FROM base/busybox:1.35\nFROBNICATE x\n", "unknown instruction"),
    ("FROM base/BusyBox:1.35\n", "not a valid image reference"),
    ("FROM base/busybox:1.35;id\n", "not a valid image reference"),
    ("FROM " + "a/" * 200 + "b\n", "longer than 255"),
    ("ARG T=$(id)\nFROM base/busybox:$T\n", "unsupported substitution"),
    ("FROM --network=host base/busybox:1.35\n", "FROM --network"),
    ("FROM base/busybox:1.35\n" + "FROM base/busybox:1.35\n" * 40, "more than 32 stages"),
    ("FROM base/busybox:1.35\nRUN echo \ud800\n", "not valid UTF-8"),
])
def test_it_refuses_hostile_or_malformed_dockerfiles_with_a_message(text, message):
    with pytest.raises(DockerfileRefused) as refused:
        dockerfile_resolve(text, build_args={}, context=CONTEXT)
    assert message in str(refused.value) or any(message in e.message for e in refused.value.errors)


@pytest.mark.parametrize("name, value", [("bad-name", "x"), ("OK", "two\nlines"), ("OK", "x" * 2000), ("OK", "\udc80")])
def test_it_refuses_hostile_build_arguments(name, value):
    text = "ARG OK\nARG bad\nFROM base/busybox:1.35\n"
    with pytest.raises(DockerfileRefused, match="build argument"):
        dockerfile_resolve(text, build_args={name: value}, context=CONTEXT)


def test_a_build_argument_cannot_smuggle_another_image_in():
    errors = refusal("ARG TAG=1.35\nFROM base/busybox:$TAG\n", TAG="1.35 AS x\nFROM nginx")
    assert 0 in errors and "one line of text" in errors[0]
    assert "not a valid image reference" in refusal("ARG TAG=1.35\nFROM base/busybox:$TAG\n", TAG="1.35@evil")[2]


def test_it_reads_references_as_docker_does():
    assert reference_parse("base/busybox").tag == "latest"
    parsed = reference_parse(f"localhost:5000/a/b@{BUSYBOX_DIGEST}")
    assert (parsed.host, parsed.repository, parsed.tag, parsed.digest) == ("localhost:5000", "a/b", "", BUSYBOX_DIGEST)
    assert reference_parse("base/busybox:1.35").host == "", "a first part without '.' or ':' is a path, not a registry"


# A line ending in the escape character and a Unicode space continues for dockerfile-parse (Python's
# \s) and not for the engine (Go's [ \t]): the engine would run the ADD that the checks read as part
# of the RUN. tests/integration/test_dockerfile_reading.py shows each reading on the real engine.
HIDDEN_ADD = "FROM base/busybox:1.35\nRUN true \\{space}\nADD http://169.254.169.254/latest/meta-data/ /m\n"


@pytest.mark.parametrize("space, name", [("\u00a0", "no-break space (U+00A0)"), ("\u0085", "space (U+0085)"),
                                         ("\u3000", "ideographic space (U+3000)"), (" \t\u2009", "thin space (U+2009)")])
def test_an_instruction_hidden_behind_a_unicode_space_after_the_escape_is_refused(space, name):
    errors = refusal(HIDDEN_ADD.format(space=space))
    assert errors == {2: f"the line ends in a {name} after the escape character: the checks would read the next "
                         "line as part of this instruction and the engine as an instruction of its own; remove it"}


@pytest.mark.parametrize("text, line", [
    ("#\u00a0escape=`\nFROM base/busybox:1.35\nRUN true `\nADD http://x/ /m\n", 1),  # the engine: no directive
    ("# syntax=\n# escape=`\nFROM base/busybox:1.35\nRUN true `\nADD http://x/ /m\n", 2),  # the engine: ignored
    ("# escape=` x\nFROM base/busybox:1.35\n", 1),  # the engine: an error, dockerfile-parse: a comment
    ("# a comment\n# escape=`\nFROM base/busybox:1.35\n", 2),
])
def test_an_escape_directive_is_read_only_plainly_on_the_first_line(text, line):
    errors = refusal(text)
    assert list(errors) == [line] and errors[line].startswith("an escape directive is accepted only as the first line")


@pytest.mark.parametrize("blank", ["", "   ", "\t"])
def test_a_blank_line_inside_a_continued_instruction_is_refused(blank):
    # The engine joins the FROM to the RUN; dockerfile-parse would read a second stage.
    errors = refusal(f"FROM base/busybox:1.35\nRUN echo \\\n{blank}\nFROM base/debian:bookworm\n")
    assert errors == {3: "a blank line inside an instruction continued from the line before: the engine skips it "
                         "and joins the next line to the instruction; remove it"}


def test_what_both_parsers_read_alike_is_accepted():
    resolved = resolve("\ufeff# escape=`\nFROM base/busybox:1.35\nRUN echo a `\n  # a note\n  b\nLABEL x=\"a\u00a0b\"\n")
    assert resolved.dockerfile.startswith("# escape=`\nFROM "), "the byte order mark is stripped, as the engine does"
    assert resolve("FROM base/busybox:1.35\nRUN echo a \\  \t\n  b\n").dockerfile.endswith("RUN echo a \\  \t\n  b\n")


def test_any_other_difference_in_where_instructions_start_is_refused():
    # The last line holds a lone word: dockerfile-parse drops it, the engine reads an instruction.
    errors = refusal("FROM base/busybox:1.35\nUSER 10001\nHEALTHCHECK")
    assert errors == {3: "the engine would read the instructions from this line on differently from the checks; "
                         "write one instruction per line, continued by a trailing escape character"}
