from django.core.management.base import BaseCommand, CommandError

from compliance.vulndb.reevaluation import due_summary, reevaluate_due
from compliance.vulndb.store import vulndb_import


class Command(BaseCommand):
    help = "Import a vulnerability feed (file, folder or zip), then re-evaluate the images it concerns."

    def add_arguments(self, parser):
        parser.add_argument("source", choices=["osv", "debian-tracker", "debian-dsa", "debian-dla", "alpine-secdb"])
        parser.add_argument("path")

    def handle(self, *args, source, path, **options):
        run, _ = vulndb_import(source=source, path=path)
        self.stdout.write(f"import {run.pk}: {run.status}; added {run.added}, updated {run.updated}, "
                          f"unchanged {run.unchanged}, withdrawn {run.withdrawn}, rejected {run.rejected}")
        for rejection in run.rejections[:10]:
            self.stdout.write(f"  rejected {rejection['origin']}: {rejection['reason']}")
        # Also after a failed import: the batches it stored before failing are in the database.
        counts = reevaluate_due()
        self.stdout.write(due_summary(counts, {run.pk}))
        if run.status != run.Status.DONE:
            raise CommandError(run.error)

