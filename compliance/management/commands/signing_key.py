from django.core.management.base import BaseCommand, CommandError

from compliance.attestations.keyring import SigningUnavailable, keys_document, signing_key_ensure, signing_key_rotate


class Command(BaseCommand):
    help = ("The key the portal signs published images with. ensure: make and register one if there is none "
            "(what `make run` does on every start); rotate: a new active key, the old one trusted for verification "
            "during the overlap while every published image is signed again; show: the keys and their status.")

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["ensure", "rotate", "show"])
        parser.add_argument("--adopt", action="store_true",
                            help="rotate: make the key now configured (a new file or PORTAL_SIGNING_KEY) the active one "
                                 "instead of generating one")
        parser.add_argument("--overlap-days", type=int, default=None,
                            help="rotate: days the old key stays trusted (default SIGNING_KEY_OVERLAP_DAYS)")

    def handle(self, *args, action, adopt, overlap_days, **options):
        try:
            if action == "ensure":
                row, created = signing_key_ensure()
                self.stdout.write(f"signing key {row.key_id} {'made and registered' if created else 'in place'}")
            elif action == "rotate":
                row = signing_key_rotate(adopt=adopt, overlap_days=overlap_days)
                self.stdout.write(f"signing key {row.key_id} is active; published images are signed again with it")
            else:
                for key in keys_document()["keys"]:
                    until = f" (trusted until {key['verifyUntil']})" if key["status"] == "retiring" else ""
                    self.stdout.write(f"{key['keyid']} {key['algorithm']} {key['status']}{until}")
        except (SigningUnavailable, ValueError) as error:
            raise CommandError(str(error))
