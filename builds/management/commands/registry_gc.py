from django.core.management.base import BaseCommand, CommandError

from builds.runner.registry_gc import registry_gc


class Command(BaseCommand):
    help = ("In the registry's quarantine only: delete manifests no tag or build references and remove "
            "abandoned upload sessions (run on the registry's host; REGISTRY_STORAGE_DIR).")

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="List what would go; change nothing.")

    def handle(self, *args, dry_run=False, **options):
        report = registry_gc(dry_run=dry_run)
        if report.skipped:
            raise CommandError(report.skipped)
        verb = "Would delete" if dry_run else "Deleted"
        for reference in report.manifests_deleted:
            self.stdout.write(f"{verb} manifest {reference}")
        for upload in report.uploads_removed:
            self.stdout.write(f"{'Would remove' if dry_run else 'Removed'} abandoned upload {upload}")
        for error in report.errors:
            self.stderr.write(f"Failed: {error}")
        self.stdout.write(f"{verb} {len(report.manifests_deleted)} manifest(s) and "
                          f"{len(report.uploads_removed)} upload session(s) in quarantine.")
        if report.errors:
            raise CommandError(f"{len(report.errors)} deletion(s) failed")
