"""Print a registry token for one of the portal's service identities, for scripts that talk to the
registry with curl or the docker CLI (scripts/make-base-images.sh pushes the base images as the
curator). Nothing is printed but the token; it lasts REGISTRY_TOKEN_TTL_SECONDS."""
from django.core.management.base import BaseCommand, CommandError

from adapters.factory import service_token
from adapters.registry_tokens import SERVICES


class Command(BaseCommand):
    help = "Print a registry token for a service identity, e.g. registry_token curator repository:base/busybox:pull,push"

    def add_arguments(self, parser):
        parser.add_argument("identity", choices=SERVICES)
        parser.add_argument("scope", nargs="+", help="repository:<name>:<actions>")

    def handle(self, *args, identity, scope, **options):
        token = service_token(identity, " ".join(scope))
        if not token:
            raise CommandError("This portal issues no registry tokens: PORTAL_REGISTRY_TOKEN_KEY_FILE is missing "
                               "(scripts/ensure-services.sh creates it).")
        self.stdout.write(token)
