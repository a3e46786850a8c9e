from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from portal.accounts.lockout import lockout_clear


class Command(BaseCommand):
    help = ("End the log-in lockout of a user name and/or a client address now (their failed attempts are forgotten). "
            "Audited as done by the portal's operator.")

    def add_arguments(self, parser):
        parser.add_argument("--username", default="")
        parser.add_argument("--ip", default="", help="A client address, as the lockout recorded it")

    def handle(self, *args, username, ip, **options):
        try:
            cleared = lockout_clear(actor=None, username=username, ip_address=ip)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        what = " and ".join(f"{label} {value}" for label, value in (("user name", username), ("address", ip)) if value)
        self.stdout.write(f"Unlocked {what}: {cleared} failure record(s) removed.")
