from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from compliance.vulndb.reevaluation import due_summary, reevaluate_due
from compliance.vulndb.sync import feeds_from_setting, vulndb_sync


class Command(BaseCommand):
    help = ("Download the vulnerability feeds in VULNDB_FEEDS (skipping those unchanged since the last sync), import "
            "them as vulndb_import does, then re-evaluate the images they concern. Exits non-zero if any feed failed.")

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Download every feed even if the server says unchanged")

    def handle(self, *args, force=False, **options):
        try:
            feeds = feeds_from_setting(settings.VULNDB_FEEDS)
        except ValueError as error:
            raise CommandError(str(error)) from None
        outcomes = vulndb_sync(feeds, force=force)
        for outcome in outcomes:
            self.stdout.write(f"{outcome.feed.source} {outcome.feed.url}: {outcome.status}: {outcome.message}")
            for rejection in (outcome.run.rejections[:5] if outcome.run else []):
                self.stdout.write(f"  rejected {rejection['origin']}: {rejection['reason']}")
        # Once for every feed, and for what a failed feed stored before failing, or an earlier
        # sync stopped before re-evaluating (ReevaluationDue).
        counts = reevaluate_due()
        self.stdout.write(due_summary(counts, {outcome.run.pk for outcome in outcomes if outcome.run}))
        failed = [o for o in outcomes if o.status == "failed"]
        if failed:
            raise CommandError(f"{len(failed)} of {len(outcomes)} feeds failed: "
                               + "; ".join(f"{o.feed.url}: {o.message}" for o in failed))
