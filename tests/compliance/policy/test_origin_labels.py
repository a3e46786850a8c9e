"""What added a package, named for people, from Dockerfiles the real composer (and the worker's
package-list rewrite) produced, and the layer history a legacy-builder build of them records."""
import io

from dockerfile_parse import DockerfileParser

from builds.compose.composer import ComponentChoice, RecipeSnapshot, compose
from builds.runner.apt_index import PackageIndex, packages_parse, transactions_rewrite
from compliance.policy.origin_labels import Component, Origin, OriginLabels
from compliance.policy.provenance import BuildSource, LayerOrigins
from tests.builds.compose.test_apt_merge import starter

BASE_HISTORY = [{"created_by": "/bin/sh -c #(nop) ADD file:base in / "}, {"created_by": "/bin/sh -c #(nop)  CMD [\"bash\"]",
                                                                          "empty_layer": True}]


def legacy_history(*dockerfiles: str) -> list[dict]:
    """The history entries Docker's legacy builder writes for the final stage of each Dockerfile
    (stage 2 is built FROM stage 1's image, so its entries follow)."""
    entries = list(BASE_HISTORY)
    for text in filter(None, dockerfiles):
        structure = DockerfileParser(fileobj=io.BytesIO(text.encode())).structure
        start = max(i for i, item in enumerate(structure) if item["instruction"] == "FROM")
        for item in structure[start + 1:]:
            keyword, value = item["instruction"], item["value"]
            if keyword == "RUN":
                entries.append({"created_by": f"/bin/sh -c {value}"})
            elif keyword in ("COPY", "ADD"):
                entries.append({"created_by": f"/bin/sh -c #(nop) {keyword} file:0a1b in {value.split()[-1]} "})
            elif keyword == "WORKDIR":
                entries.append({"created_by": f"/bin/sh -c #(nop) WORKDIR {value}"})
            else:
                entries.append({"created_by": f"/bin/sh -c #(nop)  {keyword} {value}", "empty_layer": True})
    return entries


def labels_for(composition, built_dockerfile: str, snapshot: RecipeSnapshot) -> OriginLabels:
    config = {"history": legacy_history(built_dockerfile, composition.script_stage)}
    origins = LayerOrigins(config, BuildSource(dockerfile=composition.dockerfile, script_stage=composition.script_stage), 1)
    components = {c.slug: Component(c.kind, c.name, c.version) for c in snapshot.components}
    return OriginLabels(origins, base_name="Debian 12 (bookworm)", components=components)


def layer_of(labels: OriginLabels, text: str) -> int:
    [layer] = [i for i, step in enumerate(labels.origins.steps) if text in step]
    return layer


RECIPE = RecipeSnapshot(
    base_reference="127.0.0.1:5000/base/debian@sha256:" + "a" * 64, base_os_family="debian",
    components=(starter("wget"), starter("jre"), starter("jacoco", port="6300"), starter("runtime-user", uid="10001")),
    image_script=b"pip install app\n", image_script_origin="team script tools v2")
WGET_LISTS = PackageIndex(release_files={"deb_InRelease": b"signed"},
                          lists={"deb_Packages": packages_parse("Package: wget\nVersion: 1.21.3-1+b2\n")})


def test_it_names_the_option_the_service_the_script_and_the_base_of_a_composed_recipe():
    composition = compose(RECIPE)
    # the worker copies package lists into the transactions it can (wget's), and the image records that form
    built, _, rewritten = transactions_rewrite(composition.dockerfile, WGET_LISTS)
    assert rewritten == 1 and "COPY portal-apt-lists/" in built
    labels = labels_for(composition, built, RECIPE)

    assert labels.of(0) == Origin("base", "base Debian 12 (bookworm)")
    assert labels.of(layer_of(labels, "openjdk-17-jre-headless")) == Origin(
        "service", "service Java runtime (OpenJDK 17 JRE) 17")
    assert labels.of(layer_of(labels, "(apt-get install -y --no-install-recommends wget ")) == Origin("option", "option wget 1")
    assert labels.of(layer_of(labels, "libjacoco-java")) == Origin("service", "service JaCoCo coverage agent 0.8.6-1")
    assert labels.of(layer_of(labels, "echo app:x:10001")) == Origin("option", "option Non-root runtime user 1")
    assert labels.of(layer_of(labels, "sh /tmp/portal-paas/image-env.sh")) == Origin(
        "script", ".paas/image-env.sh from the team script tools v2")
    assert labels.of(layer_of(labels, "WORKDIR /app")) == Origin("option", "option Non-root runtime user 1")
    # the package lists' own layer holds no package and matches no line: said plainly, not guessed
    lists = layer_of(labels, "in /var/lib/apt/lists/")
    assert labels.of(lists) == Origin("unknown", f"added (layer {lists})")


def test_a_transaction_a_service_and_an_option_both_need_names_both_and_counts_as_the_service():
    needs_jre_too = ComponentChoice(slug="java-tools", name="Java tools", kind="option", version="2", order_weight=30,
                                    fragment="RUN apt-get update \\\n && apt-get install -y --no-install-recommends "
                                             "openjdk-17-jre-headless \\\n && rm -rf /var/lib/apt/lists/*")
    recipe = RecipeSnapshot(base_reference=RECIPE.base_reference, base_os_family="debian",
                            components=(starter("jre"), needs_jre_too))
    composition = compose(recipe)
    labels = labels_for(composition, composition.dockerfile, recipe)
    assert labels.of(layer_of(labels, "openjdk-17-jre-headless")) == Origin(
        "service", "service Java runtime (OpenJDK 17 JRE) 17, option Java tools 2")


OWN_DOCKERFILE = ("FROM 127.0.0.1:5000/base/debian@sha256:abc AS build\n"
                  "RUN apt-get install -y gcc\n"
                  "FROM 127.0.0.1:5000/base/debian@sha256:abc\n"
                  "ARG VERSION=1\n"
                  "# option: wget 1  (the team's own comment is not ours to read)\n"
                  "RUN apt-get update \\\n"
                  "    && apt-get install -y curl\n"
                  "COPY app.jar /app/\n"
                  "WORKDIR /app\n")


def test_an_own_dockerfile_is_named_by_its_line():
    origins = LayerOrigins({"history": legacy_history(OWN_DOCKERFILE)},
                           BuildSource(dockerfile=OWN_DOCKERFILE, own_dockerfile=True), 1)
    labels = OriginLabels(origins, base_name="Debian 12 (bookworm)", components={})
    assert labels.of(1) == Origin("dockerfile", "Dockerfile line 6: RUN apt-get update \\")
    assert labels.of(2) == Origin("dockerfile", "Dockerfile line 8: COPY app.jar /app/")
    assert labels.of(3) == Origin("dockerfile", "Dockerfile line 9: WORKDIR /app")
    assert labels.layers_by_kind() == {"base": [0], "option": [], "service": [], "script": [], "package": [],
                                       "dockerfile": [1, 2, 3], "unknown": []}


def test_the_code_package_and_the_build_stage_output_are_named():
    dockerfile = ("FROM b\n\n# artifact sha256:0123\nCOPY artifact/app.tar.gz /app/app.tar.gz\n")
    origins = LayerOrigins({"history": legacy_history(dockerfile)}, BuildSource(dockerfile=dockerfile), 1)
    assert OriginLabels(origins, base_name="b", components={}).of(1) == Origin("package", "code package app.tar.gz")
    staged = ("FROM b\n\n# package app.tar.gz sha256:0123\n# build output: dist/app.jar from the build stage\n"
              "COPY --from=portal-build-stage /src/dist/app.jar /app/app.jar\n")
    origins = LayerOrigins({"history": legacy_history(staged)}, BuildSource(dockerfile=staged), 1)
    assert OriginLabels(origins, base_name="b", components={}).of(1) == Origin("script", "build stage output dist/app.jar")


def test_what_cannot_be_mapped_keeps_its_layer_number_and_no_name():
    composition = compose(RECIPE)
    history = {"history": legacy_history(composition.dockerfile, composition.script_stage)}
    # no recorded source (an image built before the portal kept it)
    unrecorded = OriginLabels(LayerOrigins(history, None, 1), base_name="Debian 12", components={})
    assert unrecorded.of(3) == Origin("unknown", "added (layer 3)")
    assert unrecorded.of(0) == Origin("base", "base Debian 12")
    # squashed: one layer above the base, made by no line of the Dockerfile
    squashed = {"history": BASE_HISTORY + [{"created_by": "/bin/sh -c #(nop) ADD file:squashed in / "}]}
    origins = LayerOrigins(squashed, BuildSource(dockerfile=composition.dockerfile), 1)
    assert OriginLabels(origins, base_name="Debian 12", components={}).of(1) == Origin("unknown", "added (layer 1)")
    # a layer the package database names but the history does not have, and no layer at all
    assert unrecorded.of(40) == Origin("unknown", "added (layer 40)")
    assert unrecorded.of(None) == Origin("unknown", "layer unknown")


def test_a_transaction_composed_before_the_contributors_were_written_is_not_given_a_name():
    composition = compose(RECIPE)
    older = "\n".join(line for line in composition.dockerfile.split("\n") if not line.startswith("# for "))
    origins = LayerOrigins({"history": legacy_history(older)}, BuildSource(dockerfile=older), 1)
    labels = OriginLabels(origins, base_name="Debian 12", components={})
    layer = layer_of(labels, "openjdk-17-jre-headless")
    assert labels.of(layer) == Origin("unknown", f"added (layer {layer}, Dockerfile line 5)")
