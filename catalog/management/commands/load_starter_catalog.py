from django.core.management.base import BaseCommand

from catalog.services import starter_catalog_load


class Command(BaseCommand):
    help = "Load the starter catalog (idempotent) and pin base images to the registry's digests."

    def handle(self, *args, **options):
        for line in starter_catalog_load():
            self.stdout.write(line)
