"""What compliance records per build: the scan (SBOM) and the policy verdict."""
from django.db import models

from builds.models import Build


class ImageScan(models.Model):
    """Reading a pushed image's layers. States are explicit so "not scanned" never reads as "clean"."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SCANNING = "scanning", "Scanning"
        DONE = "done", "Scanned"
        FAILED = "failed", "Failed"
        UNSUPPORTED = "unsupported", "Unsupported"

    build = models.OneToOneField(Build, on_delete=models.CASCADE, related_name="scan")
    digest = models.CharField(max_length=80)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    os_id = models.CharField(max_length=40, blank=True)
    os_version = models.CharField(max_length=40, blank=True)
    facts = models.JSONField(default=dict, blank=True, help_text="Image config, layers, passwd, os-release")
    error = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)
    finished = models.DateTimeField(null=True, blank=True)


class SbomPackage(models.Model):
    scan = models.ForeignKey(ImageScan, on_delete=models.CASCADE, related_name="packages")
    type = models.CharField(max_length=20, default="deb")
    name = models.CharField(max_length=200)
    version = models.CharField(max_length=200)
    source_name = models.CharField(max_length=200, blank=True)
    source_version = models.CharField(max_length=200, blank=True)
    architecture = models.CharField(max_length=40, blank=True)
    layer_index = models.IntegerField(null=True)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["type", "source_name"])]


class Verdict(models.Model):
    """The policy outcome for one build, with every rule's result and evidence."""

    POLICY_VERSION = "1"

    build = models.ForeignKey(Build, on_delete=models.CASCADE, related_name="verdicts")
    passed = models.BooleanField()
    results = models.JSONField(default=list)
    policy_version = models.CharField(max_length=20, default=POLICY_VERSION)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created"]

    @property
    def failures(self):
        return [r for r in self.results if r["status"] == "fail"]
