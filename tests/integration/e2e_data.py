"""Data the compliance end-to-end test makes for itself: tiny pure-Python wheels, the code package
that ships them with a `.paas/image-env.sh`, and OSV records. Nothing is downloaded or copied:
the packages are fictitious, so no real advisory can ever match them by accident."""
import base64
import hashlib
import io
import json
import tarfile
import zipfile
from pathlib import Path

PARSER = "Portal_E2E_Parser"  # METADATA spelling; OSV records use the PEP 503 name below
PARSER_OSV = "portal-e2e-parser"
HTTP = "portal-e2e-http"


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def wheel(name: str, version: str, requires: tuple[str, ...] = ()) -> tuple[str, bytes]:
    """(file name, bytes) of a py3-none-any wheel with one module, as pip expects it (RECORD hashes included)."""
    module = name.lower().replace("-", "_")
    info = f"{module}-{version}.dist-info"
    metadata = "".join([f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
                        "Summary: A package made by the portal's end-to-end test\n",
                        *(f"Requires-Dist: {r}\n" for r in requires)])
    files = {
        f"{module}/__init__.py": f'__version__ = "{version}"\n'.encode(),
        f"{info}/METADATA": metadata.encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: portal-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "\n".join([_record_line(p, d) for p, d in files.items()] + [f"{info}/RECORD,,"]) + "\n"
    files[f"{info}/RECORD"] = record.encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return f"{module}-{version}-py3-none-any.whl", buffer.getvalue()


# Runs in the image stage with no network: pip installs the OLD parser (a newer one is shipped
# too, so the pin matters) and resolves its dependency from the package's wheels only. Then the
# script deletes the deploy key an earlier layer left behind, believing that removes it.
IMAGE_SCRIPT = b"""#!/bin/sh
set -eu
mkdir -p /tmp/e2e-unpack
tar -xzf /app/app.tar.gz -C /tmp/e2e-unpack
python3 -m pip install --no-index --no-cache-dir --break-system-packages \\
  --find-links /tmp/e2e-unpack/app-1.0/wheels portal-e2e-parser==1.0.2
rm -rf /tmp/e2e-unpack /etc/deploy/id_ed25519.pem
"""


def code_package() -> bytes:
    """The team's code package (tar.gz): the image script and the wheels it installs."""
    wheels = [wheel(PARSER, "1.0.2", requires=(f"{HTTP}<1",)), wheel(PARSER, "1.1.0", requires=(f"{HTTP}<1",)),
              wheel(HTTP, "0.9.0")]
    entries = [("app-1.0/.paas/image-env.sh", IMAGE_SCRIPT), ("app-1.0/run.sh", b"echo hi\n")]
    entries += [(f"app-1.0/wheels/{name}", data) for name, data in wheels]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


CRITICAL_VECTOR = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"  # 9.8
HIGH_VECTOR = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"  # 7.5


def osv_record(osv_id: str, package: str, ranges: list[list[tuple[str, str]]], *, modified: str,
               severity: list[dict] | None = None, label: str | None = None, aliases=(), withdrawn: str | None = None) -> dict:
    """One PyPI OSV record; each range is a list of (event, version) such as ("fixed", "1.0.5")."""
    record = {
        "schema_version": "1.6.0", "id": osv_id, "modified": modified, "published": "2026-01-05T00:00:00Z",
        "aliases": list(aliases), "summary": f"{package}: a flaw made up by the end-to-end test",
        "affected": [{"package": {"ecosystem": "PyPI", "name": package},
                      "ranges": [{"type": "ECOSYSTEM", "events": [{event: v} for event, v in events]}
                                 for events in ranges]}],
    }
    if severity:
        record["severity"] = severity
    if label:
        record["database_specific"] = {"severity": label}
    if withdrawn:
        record["withdrawn"] = withdrawn
    return record


def write_records(folder: Path, records: list[dict]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for record in records:
        (folder / f"{record['id']}.json").write_text(json.dumps(record))
    return folder
