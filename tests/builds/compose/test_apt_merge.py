"""Merging the catalog's apt installs: one transaction, sorted, and nothing it does not understand."""
import pytest

from builds.compose.apt_merge import apt_merge
from builds.compose.composer import ComponentChoice, RecipeSnapshot, compose
from catalog.starter import COMPONENTS, apt_install

BASE = "127.0.0.1:5000/base/debian@sha256:" + "a" * 64
TIMEZONE = next(c for c in COMPONENTS if c["slug"] == "timezone")["versions"][0]["fragment"]


def starter(slug, **values):
    component = next(c for c in COMPONENTS if c["slug"] == slug)
    version = component["versions"][0]
    return ComponentChoice(slug=slug, name=component["name"], kind=component["kind"], version=version["version"],
                           order_weight=component["order_weight"], fragment=version["fragment"],
                           final_fragment=version.get("final_fragment", ""),
                           parameters=tuple(version.get("parameters", ())), values=values,
                           requires=tuple(version.get("requires", ())), os_families=tuple(version["os_families"]))


def runs(dockerfile):
    """The blocks that install packages, without the comments above them."""
    blocks = ["\n".join(line for line in block.split("\n") if not line.startswith("#")) for block in dockerfile.split("\n\n")]
    return [block for block in blocks if "apt-get install" in block]


def test_it_installs_the_packages_of_every_option_in_one_sorted_transaction():
    merged = apt_merge([apt_install("wget"), apt_install("curl", "ca-certificates")])
    assert merged.runs == [
        "RUN apt-get update \\\n && apt-get install -y --no-install-recommends ca-certificates curl wget \\\n"
        " && rm -rf /var/lib/apt/lists/*"]
    assert merged.fragments == ["", ""]


def test_it_keeps_the_commands_after_the_install_where_the_fragment_was():
    rendered = TIMEZONE.replace("{{ zone }}", "Europe/Paris")
    merged = apt_merge([rendered])
    assert merged.packages == ["tzdata"]
    assert merged.fragments == ["RUN ln -sf /usr/share/zoneinfo/Europe/Paris /etc/localtime \\\n"
                                " && echo Europe/Paris > /etc/timezone\nENV TZ=Europe/Paris"]


@pytest.mark.parametrize("fragment", [
    "RUN apt-get update && apt-get install -y wget && rm -rf /var/lib/apt/lists/*",  # recommends wanted
    "RUN apt-get update && apt-get install -y --no-install-recommends wget",  # lists kept on purpose
    "RUN apt-get update && apt-get install -y --no-install-recommends wget || true && rm -rf /var/lib/apt/lists/*",
    "RUN apt-get update && apt-get install -y --no-install-recommends wget; rm -rf /var/lib/apt/lists/*",
    "RUN apt-get update && apt-get install -y --no-install-recommends libx && apt-get purge -y unzip && rm -rf /var/lib/apt/lists/*",
    "RUN apt-get update && apt-get install -y --no-install-recommends 'w && get' && rm -rf /var/lib/apt/lists/*",
    "RUN apt-get update && apt-get install -y --no-install-recommends $(cat /pkgs) && rm -rf /var/lib/apt/lists/*",
    'RUN ["sh", "-c", "apt-get update && apt-get install -y --no-install-recommends wget && rm -rf /var/lib/apt/lists/*"]',
    "ENV DEBIAN_FRONTEND=noninteractive\n" + apt_install("wget"),  # may be meant for apt: keep them together
    "COPY repo.list /etc/apt/sources.list.d/repo.list\n" + apt_install("wget"),  # a source the install needs
    "RUN echo setup\n" + apt_install("wget"),
])
def test_it_leaves_anything_it_does_not_understand_exactly_as_written(fragment):
    merged = apt_merge([fragment])
    assert merged.runs == []
    assert merged.fragments == [fragment]


def test_it_moves_an_install_above_a_copy_into_the_certificate_store():
    fragment = ("COPY params/ca/certificate.pem /usr/local/share/ca-certificates/x.crt\n"
                "RUN apt-get update \\\n && apt-get install -y --no-install-recommends ca-certificates \\\n"
                " && update-ca-certificates \\\n && rm -rf /var/lib/apt/lists/*")
    merged = apt_merge([fragment])
    assert merged.packages == ["ca-certificates"]
    # the certificate is still trusted: update-ca-certificates runs after the COPY
    assert merged.fragments == ["COPY params/ca/certificate.pem /usr/local/share/ca-certificates/x.crt\n"
                                "RUN update-ca-certificates"]


def test_it_does_not_merge_a_second_pin_of_the_same_package():
    merged = apt_merge([apt_install("wget=1.21"), apt_install("wget=1.20")])
    assert merged.packages == ["wget=1.21"]
    assert merged.fragments[1] == apt_install("wget=1.20")


def test_it_puts_runtime_packages_in_a_lower_layer_of_their_own():
    merged = apt_merge([apt_install("wget"), apt_install("openjdk-17-jre-headless", "ca-certificates")], tiers=[1, 0])
    assert [r.split("--no-install-recommends ")[1].split(" \\")[0] for r in merged.runs] == [
        "ca-certificates openjdk-17-jre-headless", "wget"]


def test_composition_of_starter_options_is_one_transaction_whatever_the_order_of_ticking(pem):
    choices = [starter("wget"), starter("timezone", zone="Asia/Shanghai"), starter("curl"),
               starter("ca-certificate", certificate=pem), starter("runtime-user", uid="10001")]
    first = compose(RecipeSnapshot(BASE, "debian", tuple(choices)))
    second = compose(RecipeSnapshot(BASE, "debian", tuple(reversed(choices))))
    assert first.dockerfile == second.dockerfile
    assert runs(first.dockerfile) == [
        "RUN apt-get update \\\n && apt-get install -y --no-install-recommends ca-certificates curl tzdata wget \\\n"
        " && rm -rf /var/lib/apt/lists/*"]
    lines = first.dockerfile.splitlines()
    assert lines[1] == f"FROM {BASE}" and lines[5] == "RUN apt-get update \\", "the transaction comes right after FROM"
    assert lines[4] == "# for option: curl, option: wget, option: timezone, option: ca-certificate", \
        "above it, every component it installs packages for, in the canonical order (what names a package's origin)"
    assert "RUN update-ca-certificates" in lines
    assert "ENV TZ=Asia/Shanghai" in lines


def test_recipes_with_the_same_packages_share_the_transaction_but_not_their_settings(pem):
    paris = compose(RecipeSnapshot(BASE, "debian", (starter("timezone", zone="Europe/Paris"), starter("wget"))))
    tokyo = compose(RecipeSnapshot(BASE, "debian", (starter("wget"), starter("timezone", zone="Asia/Tokyo"))))
    assert runs(paris.dockerfile) == runs(tokyo.dockerfile)
    assert paris.dockerfile != tokyo.dockerfile


def test_a_runtime_gets_its_own_layer_below_the_options_and_jacoco_keeps_its_purge():
    jre, jacoco = starter("jre"), starter("jacoco", port="6300")
    dockerfile = compose(RecipeSnapshot(BASE, "debian", (jacoco, starter("wget"), jre))).dockerfile
    transactions = runs(dockerfile)
    assert "openjdk-17-jre-headless \\" in transactions[0] and "wget \\" in transactions[1]
    assert "libjacoco-java unzip" in transactions[2] and "apt-get purge -y --auto-remove unzip" in transactions[2]
