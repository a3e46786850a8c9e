from django.core.management.base import BaseCommand

from compliance.vulndb.reevaluation import reevaluate_after_matching_change


class Command(BaseCommand):
    help = ("Match stored SBOMs again against the stored vulnerability data after the portal's reading of ranges "
            "changed (an upgrade says when), then bring the verdicts up to date as an import would. By default only "
            "the packages whose records read differently now; --all for every package.")

    def add_arguments(self, parser):
        parser.add_argument("--all", dest="everything", action="store_true", help="Re-match every package, not only "
                                                                                 "the records whose reading changed")

    def handle(self, *args, everything: bool, **options):
        counts = reevaluate_after_matching_change(everything=everything)
        self.stdout.write(f"re-matched {counts['scans']} images; {counts['flipped_to_fail']} turned non-compliant, "
                          f"{counts['flipped_to_pass']} compliant, {counts['alerts']} alerts sent")
