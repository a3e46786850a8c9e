from django.core.management.base import BaseCommand

from builds.runner.engine_sweep import engine_sweep


class Command(BaseCommand):
    help = ("Remove images labelled by the portal that no queued or running build owns and that are older than "
            "ENGINE_SWEEP_GRACE_SECONDS, and layer-cache names older than ENGINE_LAYER_CACHE_MAX_AGE_SECONDS, "
            "from this process's Docker Engine.")

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="List what would be removed; remove nothing.")
        parser.add_argument("--grace-seconds", type=int, default=None,
                            help="Override ENGINE_SWEEP_GRACE_SECONDS for this run.")

    def handle(self, *args, dry_run=False, grace_seconds=None, **options):
        report = engine_sweep(dry_run=dry_run, grace_seconds=grace_seconds)
        verb = "Would remove" if dry_run else "Removed"
        for image_id in report.removed:
            owner = report.owners.get(image_id)
            self.stdout.write(f"{verb} {image_id[:19]} (build {owner if owner is not None else 'unknown'})")
        for reference in report.cache_dropped:
            self.stdout.write(f"{'Would drop' if dry_run else 'Dropped'} layer cache {reference}")
        counts = report.counts()
        self.stdout.write(f"{verb} {counts['removed']} image(s); kept {counts['kept_live']} of live builds, "
                          f"{counts['kept_recent']} younger than the grace period, {counts['kept_published']} "
                          f"pulled from published repositories; {len(report.cache_dropped)} cache name(s) dropped.")
