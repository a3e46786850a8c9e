"""The pure half of the image reader: merged files -> ImageFacts, and its small parsers."""
from compliance.sbom.layers import LayerFile
from compliance.sbom.models import ImageFacts, Package
from compliance.sbom.os_release import parse_os_release
from compliance.sbom.passwd import parse_passwd
from compliance.sbom.reader import facts_from_files, wanted_path


def files(**by_path):
    return {path: LayerFile(path, data.encode(), index) for path, (data, index) in by_path.items()}


def facts(merged):
    return facts_from_files(repository="quarantine/app", digest="sha256:m", layer_digests=["sha256:l0"],
                            config={"config": {"User": "app"}}, files=merged)


def test_it_parses_os_release_quotes_escapes_and_comments():
    text = '# comment\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME=\'Debian\'\nVERSION_ID="12"\n' \
           'VERSION_CODENAME=bookworm\nID=debian\nHOME_URL=https://www.debian.org/#x\nESC="a \\"b\\" \\$c"\n\nnoise\n'
    assert parse_os_release(text) == {
        "PRETTY_NAME": "Debian GNU/Linux 12 (bookworm)", "NAME": "Debian", "VERSION_ID": "12",
        "VERSION_CODENAME": "bookworm", "ID": "debian", "HOME_URL": "https://www.debian.org/#x",
        "ESC": 'a "b" $c',
    }


def test_it_parses_passwd_and_keeps_the_first_entry_of_a_name():
    text = "root:x:0:0:root:/root:/bin/bash\n# c\napp:x:10001:10001::/home/app:/bin/sh\nbad:x:notanumber\n" \
           "+nis::::::\nroot:x:5:5::/:/bin/sh\n"
    assert parse_passwd(text) == {"root": 0, "app": 10001}


def test_it_wants_the_dpkg_os_release_and_account_files_only():
    assert all(map(wanted_path, ["var/lib/dpkg/status", "var/lib/dpkg/status.d/libc6", "etc/os-release",
                                 "usr/lib/os-release", "etc/passwd", "etc/group", "etc/shadow"]))
    assert not any(map(wanted_path, ["var/lib/dpkg/status-old", "var/lib/dpkg/status.d/libc6.md5sums",
                                     "var/lib/dpkg/status.d/sub/x", "etc/gshadow", "etc/passwd-",
                                     "var/lib/dpkg/status.d/"]))


def test_it_prefers_etc_os_release_over_usr_lib():
    result = facts(files(**{"etc/os-release": ("ID=etc\n", 1), "usr/lib/os-release": ("ID=usr\n", 0)}))
    assert result.os == {"ID": "etc"}
    result = facts(files(**{"usr/lib/os-release": ("ID=usr\n", 0)}))
    assert result.os == {"ID": "usr"}


def test_it_collects_packages_from_status_and_status_d_sorted_by_name():
    merged = files(**{
        "var/lib/dpkg/status": ("Package: zlib1g\nStatus: install ok installed\nVersion: 1\nArchitecture: amd64\n\n"
                                "Package: bash\nStatus: install ok installed\nVersion: 5\nArchitecture: amd64\n", 2),
        "var/lib/dpkg/status.d/libc6": ("Package: libc6\nVersion: 2.36\nArchitecture: amd64\n", 0),
        "var/lib/dpkg/status.d/bash": ("Package: bash\nVersion: 5\nArchitecture: amd64\n", 0),
        "etc/passwd": ("root:x:0:0::/root:/bin/sh\napp:x:10001:10001::/app:/bin/sh\n", 1),
    })
    result = facts(merged)
    assert [(p.name, p.layer_index) for p in result.packages] == [("bash", 2), ("libc6", 0), ("zlib1g", 2)]
    assert result.passwd == {"root": 0, "app": 10001}


def test_it_gives_empty_facts_for_an_image_without_those_files():
    result = facts({})
    assert (result.os, result.packages, result.passwd) == ({}, [], {})


def test_it_round_trips_image_facts_through_a_dict():
    original = ImageFacts(repository="r", digest="sha256:d", layer_digests=["sha256:a"],
                          config={"config": {"Env": ["A=1"]}}, os={"ID": "debian"},
                          packages=[Package(name="a", version="1", source_name="a", source_version="1",
                                            architecture="all", layer_index=0)],
                          passwd={"root": 0})
    assert ImageFacts.from_dict(original.to_dict()) == original
