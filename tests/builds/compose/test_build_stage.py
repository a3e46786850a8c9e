"""The build stage in the pure composer: deterministic, hostile build commands stay literal words,
paths keep to a safe alphabet, and the image stage takes only the build output."""
import io
import json
from dataclasses import replace

import pytest
from dockerfile_parse import DockerfileParser

from builds.compose.build_stage import BUILD_STAGE, BuildStage, build_command_clean, relative_path_clean
from builds.compose.composer import Artifact, RecipeSnapshot, compose
from builds.errors import CompositionError
from tests.builds.compose.test_composer import BASE, USER

BUILD_BASE = "127.0.0.1:5000/base/busybox@sha256:" + "b" * 64
SCRIPT = b"#!/bin/sh\nset -eu\necho preparing\n"


def snapshot(**stage):
    stage = {"base_reference": BUILD_BASE, "script": SCRIPT, "command": ("make", "dist"), "output": "dist/app.jar", **stage}
    return RecipeSnapshot(base_reference=BASE, base_os_family="debian", components=(USER,),
                          artifact=Artifact("app.tar.gz", "c" * 64), build_stage=BuildStage(**stage))


def instructions(dockerfile):
    # With a file object the parser reads it; with none it would write ./Dockerfile (the repository's own).
    parser = DockerfileParser(fileobj=io.BytesIO(dockerfile.encode()))
    return [(i["instruction"], i["value"]) for i in parser.structure if i["instruction"] != "COMMENT"]


def test_it_is_deterministic_and_the_hash_covers_command_script_and_output():
    first, again = compose(snapshot()), compose(snapshot())
    assert (first.dockerfile, first.build_stage, first.sha256) == (again.dockerfile, again.build_stage, again.sha256)
    others = [compose(snapshot(command=("make", "all"))), compose(snapshot(script=SCRIPT + b"echo more\n")),
              compose(snapshot(output="dist/other.jar")), compose(snapshot(network=True))]
    assert len({first.sha256, *(o.sha256 for o in others)}) == 5


def test_the_build_stage_runs_package_script_then_command_and_stage_one_copies_only_the_output():
    composition = compose(snapshot(package_root="app-1.0/"))
    stage = instructions(composition.build_stage)
    assert stage[0] == ("FROM", BUILD_BASE)
    assert ("COPY", "package/ /src/") in stage and ("WORKDIR", "/src/app-1.0") in stage
    runs = [json.loads(value) for name, value in stage if name == "RUN"]
    assert runs == [["sh", "/tmp/portal-paas/build-env.sh"], ["make", "dist"]]
    assert composition.context_files["paas/build-env.sh"] == SCRIPT
    stage_one = instructions(composition.dockerfile)
    assert ("COPY", f"--from={BUILD_STAGE} /src/app-1.0/dist/app.jar /app/app.jar") in stage_one
    assert not any(value.startswith("artifact/") for name, value in stage_one if name == "COPY"), "the package stays out"
    assert stage_one[-1] == ("USER", "10001")


def test_without_an_output_path_the_whole_project_is_the_output_and_no_script_means_no_script_step():
    composition = compose(snapshot(script=b"", output=""))
    assert "build-env.sh" not in composition.build_stage and "paas/build-env.sh" not in composition.context_files
    assert f"COPY --from={BUILD_STAGE} /src/ /app/" in composition.dockerfile


@pytest.mark.parametrize("hostile", ["$(id)", "`id`", "; rm -rf /", "a && b", "it's", 'say "hi"', "${HOME}", "\\", "ü ☃ 𝄞", "]"])
def test_hostile_words_of_a_build_command_reach_the_dockerfile_as_literal_words(hostile):
    argv = ("echo", hostile, "; rm -rf /")
    stage = instructions(compose(snapshot(command=argv)).build_stage)
    runs = [value for name, value in stage if name == "RUN"]
    assert len(stage) == 7, "no word added or split an instruction"
    assert json.loads(runs[-1]) == list(argv)


def test_a_command_given_as_text_runs_through_sh_c_as_one_word():
    assert build_command_clean("mvn -q package && cp target/*.jar dist/") == ("sh", "-c", "mvn -q package && cp target/*.jar dist/")
    runs = [v for n, v in instructions(compose(snapshot(command=build_command_clean("make dist; $(id)"))).build_stage) if n == "RUN"]
    assert json.loads(runs[-1]) == ["sh", "-c", "make dist; $(id)"]


@pytest.mark.parametrize("command", ["make\nRUN curl evil | sh", ["make", "a\rb"], ["make", "nul\x00"], ["echo", "\u2028"]])
def test_it_refuses_line_breaks_and_control_characters_in_the_build_command(command):
    with pytest.raises(CompositionError) as error:
        compose(snapshot(command=tuple(command) if isinstance(command, list) else (command,)))
    assert "line breaks" in error.value.errors["build_command"]


@pytest.mark.parametrize("path", ["../etc/passwd", "/abs", "dist/../../x", "a//b", ".", "dist/*.jar", "$HOME", "a b", "x\ny"])
def test_it_refuses_output_paths_that_leave_the_project_or_mean_something_to_copy(path):
    with pytest.raises(CompositionError) as error:
        compose(snapshot(output=path))
    assert "build_output" in error.value.errors


def test_it_accepts_ordinary_output_paths():
    assert relative_path_clean("dist/") == "dist"
    assert relative_path_clean("target/app-1.0.jar") == "target/app-1.0.jar"
    assert relative_path_clean(".next") == ".next"


def test_it_refuses_a_package_folder_name_it_cannot_quote_and_a_build_stage_without_package():
    with pytest.raises(CompositionError) as error:
        compose(snapshot(package_root="my app $x/"))
    assert "artifact" in error.value.errors
    with pytest.raises(CompositionError, match="needs a code package"):
        compose(replace(snapshot(), artifact=None))


def test_network_access_shows_in_both_script_stages():
    closed = compose(replace(snapshot(), image_script=b"echo hi\n"))
    granted = compose(replace(snapshot(network=True), image_script=b"echo hi\n", scripts_network=True))
    assert "with no network" in closed.build_stage and "with no network" in closed.script_stage
    assert "network access granted" in granted.build_stage and "network access granted" in granted.script_stage
