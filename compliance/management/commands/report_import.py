import json

from django.core.management.base import BaseCommand, CommandError

from builds.models import Build
from compliance.models import ImageScan
from compliance.reports.parse import TOOLS
from compliance.reports.store import ImportRefused, ReportError, external_report_import


class Command(BaseCommand):
    help = "Import a Trivy or Grype JSON report as the findings of that tool for a build's image (or a scan)."

    def add_arguments(self, parser):
        parser.add_argument("tool", choices=TOOLS)
        parser.add_argument("path", help="The report: trivy image -f json, or grype -o json")
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument("--build", type=int, help="Build id")
        target.add_argument("--scan", type=int, help="Image scan id (for images without a build)")
        parser.add_argument("--force", action="store_true", help="Store it even if the report names another digest")

    def handle(self, *args, tool, path, build, scan, force, **options):
        try:
            with open(path, encoding="utf-8") as handle:
                data = json.load(handle)
        except (OSError, ValueError) as error:
            raise CommandError(f"Cannot read {path}: {error}")
        target = {"build": Build.objects.filter(pk=build).first()} if build else {
            "scan": ImageScan.objects.filter(pk=scan).first()}
        if None in target.values():
            raise CommandError(f"No {next(iter(target))} {build or scan}.")
        try:
            result = external_report_import(tool=tool, data=data, force=force, **target)
        except (ReportError, ImportRefused) as error:
            raise CommandError(str(error))
        self.stdout.write(f"scan {result.scan.pk}: {result.findings} {tool} findings stored (replacing {result.replaced}); "
                          f"{result.packages_created} packages and {result.advisories_created} advisories added")
