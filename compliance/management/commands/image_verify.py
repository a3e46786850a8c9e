import json

from django.core.management.base import BaseCommand, CommandError

from adapters.registry import RegistryError
from compliance.attestations.keys import InvalidKey, trusted_keys_parse
from compliance.attestations.verification import ReferenceNotFound, ReferenceRefused, reference_verify


class Command(BaseCommand):
    help = ("Verify a published image as admission would: the portal's signature on its digest, its provenance and "
            "SBOM attestations, and a compliant, unexpired latest verdict. Exit status 1 when it does not verify.")

    def add_arguments(self, parser):
        parser.add_argument("reference", help="registry/published/<team>/<name>[:tag][@sha256:...]")
        parser.add_argument("--keys", help="Verify with these keys instead of the portal's: a signing-keys.pem or "
                                           "signing-keys.json as the portal serves them under /.well-known/image-portal/")
        parser.add_argument("--json", dest="as_json", action="store_true", help="Print the whole report as JSON")

    def handle(self, *args, reference, keys, as_json: bool, **options):
        trusted = None
        if keys:
            try:
                with open(keys, encoding="utf-8") as handle:
                    trusted = trusted_keys_parse(handle.read())
            except (OSError, InvalidKey) as error:
                raise CommandError(f"Cannot use the keys in {keys}: {error}")
        try:
            report = reference_verify(reference, keys=trusted)
        except (ReferenceRefused, ReferenceNotFound, RegistryError) as error:
            raise CommandError(str(error))
        if as_json:
            self.stdout.write(json.dumps(report.to_dict(), indent=2, default=str))
        else:
            for check in report.checks:
                self.stdout.write(f"{'ok ' if check.ok else 'FAIL'} {check.name}: {check.detail}")
            for why in report.ignored:
                self.stdout.write(f"     ignored: {why}")
            self.stdout.write(f"{report.repository}@{report.digest}: {'verified' if report.verified else 'NOT verified'}")
        if not report.verified:
            raise SystemExit(1)
