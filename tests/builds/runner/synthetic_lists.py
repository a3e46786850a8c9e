"""Package lists of our own making for the byte-for-byte check of the package index (no Debian data in
the repository): deterministic for a seed."""
import random

UPDATES_LIST = "deb.debian.org_debian_dists_bookworm-updates_main_binary-amd64_Packages"


def synthetic_lists(seed: int = 12) -> dict[str, str]:
    """Package lists of our own making, shaped like Debian's: a few hundred stanzas with multi-line
    fields, versioned and arch-qualified dependencies, alternatives, virtual packages and their
    providers, dependency cycles, non-ASCII text, and newer versions in the updates and security lists."""
    rng = random.Random(seed)
    libraries = [f"lib{stem}{n}" for stem in ("alpha", "beta", "gamma", "delta", "omega", "zeta") for n in range(40)]
    roots = {"wget": ["libc6", "libpsl5", "libssl3 | libgnutls30:any"], "curl": ["libc6", "libcurl4 (= 7.88.1-10)"],
             "libcurl4": ["libc6", "libssl3 (>= 3.0.0)", "libnghttp2-14"], "tzdata": ["debconf (>= 0.5) | debconf-2.0"],
             "ca-certificates": ["openssl (>= 1.1.1)", "debconf (>= 0.5) | debconf-2.0"], "openssl": ["libc6", "libssl3"],
             "libc6": ["libgcc-s1"], "libgcc-s1": ["libc6 (>= 2.35)"], "libpsl5": ["libc6", "libidn2-0"],
             "libssl3": ["libc6 (>= 2.34)"], "libgnutls30": ["libc6"], "libnghttp2-14": ["libc6"],
             "libidn2-0": ["libc6"], "debconf": [], "cdebconf": ["libc6"]}
    provides = {"debconf": "debconf-2.0", "cdebconf": "debconf-2.0", "libidn2-0": "libidn2-any"}

    def stanza(name: str, version: str, depends: list[str]) -> str:
        lines = [f"Package: {name}", f"Version: {version}", "Architecture: amd64",
                 f"Maintainer: Équipe {name.capitalize()} <{name}@example.org>",
                 f"Installed-Size: {rng.randint(10, 9000)}"]
        if name in ("libc6", "debconf"):
            lines.append("Pre-Depends: libgcc-s1" if name == "libc6" else "Pre-Depends: perl-base (>= 5.20.1-3)")
        if depends:
            first, *rest = depends
            lines.append(f"Depends: {first}" + "".join(f",\n {d}" if i % 2 else f", {d}" for i, d in enumerate(rest)))
        if name in provides:
            lines.append(f"Provides: {provides[name]}")
        lines += [f"Filename: pool/main/{name[0]}/{name}/{name}_{version}_amd64.deb",
                  f"Size: {rng.randint(1000, 900000)}", f"SHA256: {rng.getrandbits(256):064x}",
                  f"Description: {name} — synthetic package for the tests",
                  " A longer description on continuation lines, with “quotes” and ünïcödé,",
                  " .", f" and a paragraph break: {rng.choice(['α', 'ß', '✓', '日本'])}."]
        return "\n".join(lines) + "\n"

    main, updates, security = [], [], []
    for name in ("perl-base", *libraries):
        deps = rng.sample(libraries, rng.randint(0, 3)) + (["libc6"] if rng.random() < 0.5 else [])
        deps = [d if rng.random() < 0.7 else f"{d} (>= 1.{rng.randint(0, 9)})" for d in deps if d != name]
        main.append(stanza(name, f"1.{rng.randint(0, 20)}-{rng.randint(1, 5)}", deps))
    for name, deps in roots.items():
        main.append(stanza(name, "2.36-9" if name == "libc6" else f"3.{rng.randint(0, 9)}-1", deps + rng.sample(libraries, 2)))
    for name in rng.sample(list(roots), 4):
        updates.append(stanza(name, "9.9-1+deb12u1", roots[name]))
    for name in ("libssl3", "tzdata", "openssl"):
        security.append(stanza(name, "9.9-1~deb12u3", roots[name]))
    return {"deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages": "\n".join(main),
            UPDATES_LIST: "\n".join(updates),
            "deb.debian.org_debian-security_dists_bookworm-security_main_binary-amd64_Packages": "\n".join(security)}
