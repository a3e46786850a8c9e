"""What compliance records per build: the scan (SBOM) and the policy verdict."""
from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.core.exceptions import ValidationError
from django.db import models

from builds.models import Build
from compliance.policy.params import RuleParamsError, params_clean


class ImageScan(models.Model):
    """Reading a pushed image's layers. States are explicit so "not scanned" never reads as "clean"."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SCANNING = "scanning", "Scanning"
        DONE = "done", "Scanned"
        FAILED = "failed", "Failed"
        UNSUPPORTED = "unsupported", "Unsupported"

    build = models.OneToOneField(Build, null=True, blank=True, on_delete=models.CASCADE, related_name="scan",
                                 help_text="Empty for images scanned on request (Harbor, reports imported)")
    registry = models.CharField(max_length=300, blank=True, help_text="Registry URL when not the portal's own")
    repository = models.CharField(max_length=300, blank=True)
    digest = models.CharField(max_length=80)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    os_id = models.CharField(max_length=40, blank=True)
    os_version = models.CharField(max_length=40, blank=True)
    facts = models.JSONField(default=dict, blank=True, help_text="Image config, layers, passwd, os-release")
    # Made once at scan time (cyclonedx-python-lib needs ~1 ms a package): the document the SBOM
    # download serves and the gate attests are the same. zlib: JSON SBOMs shrink about tenfold.
    cyclonedx = models.BinaryField(default=b"", blank=True, editable=False,
                                   help_text="CycloneDX JSON of the SBOM, zlib-compressed")
    error = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)
    finished = models.DateTimeField(null=True, blank=True)


class ScanCredential(models.Model):
    """The registry credential Harbor sent with a scan request, sealed (compliance/harbor/credentials.py)
    and kept only until the scan ends or it expires: the worker looks it up by the scan's id, so
    it never travels in a broker message."""

    scan = models.OneToOneField(ImageScan, on_delete=models.CASCADE, related_name="credential")
    sealed = models.TextField(help_text="Fernet token of the Authorization value (key derived from SECRET_KEY)")
    expires_at = models.DateTimeField()


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

    # 2: rules come from PolicyRule rows; the verdict records the rule set it used.
    # 3: the privilege rules (setuid/capabilities/world-writable files, accounts, runtime group, ONBUILD).
    POLICY_VERSION = "3"

    build = models.ForeignKey(Build, on_delete=models.CASCADE, related_name="verdicts")
    passed = models.BooleanField()
    results = models.JSONField(default=list)
    policy_version = models.CharField(max_length=20, default=POLICY_VERSION)
    database_version = models.PositiveIntegerField(null=True, blank=True, help_text="Latest ImportRun id used")
    ruleset_version = models.CharField(max_length=64, blank=True, help_text="sha256 of the effective rules used")
    ruleset = models.JSONField(default=list, blank=True, help_text="The effective rules used: kind, action, params, source")
    # Never "0 vulnerabilities" for an image nobody could assess: why it was not (compliance/vulndb/coverage.py).
    not_assessed = models.TextField(blank=True, help_text="Why the image's vulnerabilities could not be assessed "
                                    "(no vulnerability data for an ecosystem of its packages, or data too old); empty when they were")
    trigger = models.CharField(max_length=30, default="build", help_text="build, or reevaluation after an import")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created"]

    @property
    def assessed(self) -> bool:
        return not self.not_assessed

    @property
    def state(self) -> str:
        """pass, blocked or not-assessed (which the gate blocks unless the team's policy only warns)."""
        if self.not_assessed:
            return "not-assessed"
        return "pass" if self.passed else "blocked"

    @property
    def failures(self):
        return [r for r in self.results if r["status"] == "fail"]

    @property
    def waived(self):
        return [r for r in self.results if r["status"] == "waived"]

    @property
    def warnings(self):
        return [r for r in self.results if r["status"] == "warn"]


class PolicyRule(models.Model):
    """One policy rule as data. A row without a team is global; a team's row of the same kind
    replaces the global one for that team's images. A built-in kind with no global row runs
    with its default parameters, so a rule is turned off by disabling it, never by deleting it."""

    class Kind(models.TextChoices):
        APPROVED_BASE = "approved-base", "Approved base image"
        NON_ROOT_USER = "non-root-user", "Non-root runtime user"
        NO_SECRETS_IN_ENV = "no-secrets-in-env", "No secrets in environment"
        NO_SECRETS_IN_LAYERS = "no-secrets-in-layers", "No secrets in files, labels or history"
        DOCKERFILE_LINT = "dockerfile-lint", "Dockerfile lint (hadolint)"
        BANNED_PACKAGES = "banned-packages", "No banned packages"
        RUNTIME_PRIVILEGES = "runtime-privileges", "No privileged mode or extra capabilities"
        VULNERABILITY_DATA = "vulnerability-data", "Vulnerability data is current"
        VULNERABILITY_THRESHOLD = "vulnerability-threshold", "Vulnerability threshold"
        NON_ROOT_GROUP = "non-root-group", "Runtime group is not root"
        NO_ROOT_ACCOUNTS = "no-root-accounts", "No uid or gid 0 accounts besides a locked root"
        NO_SETUID_FILES = "no-setuid-files", "No setuid or setgid files above the base"
        NO_FILE_CAPABILITIES = "no-file-capabilities", "No file capabilities above the base"
        NO_WORLD_WRITABLE = "no-world-writable", "No world-writable system paths above the base"
        NO_ONBUILD = "no-onbuild", "No ONBUILD triggers"

    class Action(models.TextChoices):
        BLOCK = "block", "Block publication"
        WARN = "warn", "Warn only"

    team = models.ForeignKey("portal.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="policy_rules",
                             help_text="Empty: the global rule. Set: replaces the global rule of this kind for the team")
    kind = models.CharField(max_length=40, choices=Kind.choices)
    enabled = models.BooleanField(default=True)
    action = models.CharField(max_length=10, choices=Action.choices, default=Action.BLOCK)
    params = models.JSONField(default=dict, blank=True, help_text="Parameters of the kind, as JSON (see the policy page)")
    note = models.TextField(blank=True, help_text="Why the rule is set this way")
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["team__slug", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["team", "kind"], name="one_policy_rule_per_team_and_kind"),
            models.UniqueConstraint(fields=["kind"], condition=models.Q(team__isnull=True), name="one_global_policy_rule_per_kind"),
        ]

    def __str__(self):
        return f"{self.kind} ({self.team.slug if self.team_id else 'global'})"

    def clean(self):
        try:
            self.params = params_clean(self.kind, self.params)
        except RuleParamsError as error:
            raise ValidationError({"params": [f"{k}: {v}" for k, v in error.errors.items()]})


class PolicyReevaluationDue(models.Model):
    """A change that every current verdict of a team (or of all teams: team empty) must be evaluated
    again for (a policy rule, the approved bases): written in the change's own transaction, deleted
    by the re-evaluation that covered it (compliance/policy/change.py). A message the broker never
    took, or a worker that died in the middle, leaves it for the scheduled pass."""

    team = models.ForeignKey("portal.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    trigger = models.CharField(max_length=30, help_text="policy-change or base-change: the verdicts' trigger")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self):
        return f"{self.trigger} re-evaluation due for {self.team_id or 'every team'}"


class ImportRun(models.Model):
    """One import of a vulnerability feed, with what it changed; its id is the database version."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    source = models.CharField(max_length=30, help_text="osv, debian-tracker, debian-dsa, debian-dla, alpine-secdb")
    origin = models.CharField(max_length=500, help_text="File, directory or URL imported")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RUNNING)
    started = models.DateTimeField(auto_now_add=True)
    finished = models.DateTimeField(null=True, blank=True)
    added = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    withdrawn = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    rejections = models.JSONField(default=list, blank=True, help_text="The first rejected records and why")
    error = models.TextField(blank=True)
    # HTTP validators of the file a sync downloaded: the next sync asks "changed since?" with them.
    etag = models.CharField(max_length=300, blank=True)
    last_modified = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["-started"]

    def __str__(self):
        return f"import {self.pk} {self.source} {self.origin}"


class ReevaluationDue(models.Model):
    """What one batch of an import changed, owed a re-evaluation of the stored SBOMs: written in the
    batch's own transaction, deleted by the re-evaluation that covered it
    (compliance/vulndb/reevaluation.py, `reevaluate_due`). An import or a re-evaluation stopped
    half-way (a killed process, a lost database, a failed feed) leaves its rows for the next one."""

    import_run = models.ForeignKey(ImportRun, on_delete=models.CASCADE, related_name="+")
    pairs = models.JSONField(default=list, help_text="[ecosystem, name] pairs whose advisories the batch changed")
    advisories = models.JSONField(default=list, help_text="Ids of the advisories the batch added, updated or withdrew")
    attempts = models.PositiveIntegerField(default=0, help_text="Re-evaluations that started on this row")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self):
        return f"re-evaluation due for import {self.import_run_id}: {len(self.pairs)} pairs"


class AlertOwed(models.Model):
    """An alert owed to the owners of a published image that turned non-compliant: written with the
    verdict that flipped, deleted once the alert is sent (compliance/alerts.py). A process that died
    before sending leaves it for the scheduled pass (`alerts_owed_send`)."""

    build = models.ForeignKey(Build, on_delete=models.CASCADE, related_name="+")
    verdict = models.ForeignKey(Verdict, on_delete=models.CASCADE, related_name="+")
    created = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self):
        return f"alert owed for build {self.build_id} (verdict {self.verdict_id})"


class EcosystemData(models.Model):
    """How current the vulnerability data of one ecosystem (Debian:12, Alpine:v3.19, PyPI...) is:
    the last successful import whose feed named it, changed records or not. An image whose
    packages are in an ecosystem without a row, or with a row older than the vulnerability-data
    rule allows, is not assessed."""

    ecosystem = models.CharField(max_length=60, unique=True)
    source = models.CharField(max_length=30, help_text="The feed of the last import that named it")
    import_run = models.ForeignKey(ImportRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    imported_at = models.DateTimeField()

    class Meta:
        ordering = ["ecosystem"]

    def __str__(self):
        return f"{self.ecosystem} (imported {self.imported_at:%Y-%m-%d})"


class GinIndexOnPostgres(GinIndex):
    """A GIN index on PostgreSQL. SQLite, the development default, has no GIN: there it is a plain
    index (which no query uses), so its migrations and its table rebuilds still run."""

    def create_sql(self, model, schema_editor, using="", **kwargs):
        if schema_editor.connection.vendor != "postgresql":
            return models.Index.create_sql(self, model, schema_editor, using=using, **kwargs)
        return super().create_sql(model, schema_editor, using=using, **kwargs)


class Advisory(models.Model):
    """A vulnerability record as imported (OSV-shaped); `record` keeps the whole of it."""

    source = models.CharField(max_length=30)
    osv_id = models.CharField(max_length=120)
    modified = models.DateTimeField()
    published = models.DateTimeField(null=True, blank=True)
    withdrawn = models.DateTimeField(null=True, blank=True)
    aliases = models.JSONField(default=list, blank=True)
    summary = models.TextField(blank=True)
    record = models.JSONField(default=dict)
    import_run = models.ForeignKey(ImportRun, null=True, on_delete=models.SET_NULL, related_name="+")
    # An imported scanner report's advisory (sources trivy, grype) is its team's own: its words are
    # what that team's reports said, and another team's report cannot change them (nor show them
    # to another team). Empty for the vulnerability database's, and a report an operator imported
    # for a scan without a build.
    team = models.ForeignKey("portal.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "osv_id"], condition=models.Q(team__isnull=True),
                                    name="unique_advisory_per_source"),
            models.UniqueConstraint(fields=["source", "osv_id", "team"], condition=models.Q(team__isnull=False),
                                    name="unique_report_advisory_per_team"),
        ]
        # Looking up an id (compliance/vulndb/lookup.py): the unique constraint leads with source, so
        # it does not serve osv_id alone; the GIN index answers `aliases @> '["CVE-..."]'`, and with
        # the default operator class (jsonb_ops) also `?|` (the report comparison's has_any_keys).
        indexes = [models.Index(fields=["osv_id"], name="compliance_advisory_osv_id"),
                   GinIndexOnPostgres(fields=["aliases"], name="compliance_advisory_aliases")]

    def __str__(self):
        return self.osv_id

    @property
    def cve_id(self) -> str:
        """The CVE a reader knows this by, if any."""
        if self.osv_id.startswith("CVE-"):
            return self.osv_id
        return next((a for a in self.aliases if a.startswith("CVE-")), self.osv_id)


class AffectedPackage(models.Model):
    """One (ecosystem, package) an advisory names: the index the matcher looks up."""

    advisory = models.ForeignKey(Advisory, on_delete=models.CASCADE, related_name="affected")
    ecosystem = models.CharField(max_length=60)
    name = models.CharField(max_length=250)
    ranges = models.JSONField(default=list, blank=True)
    versions = models.JSONField(default=list, blank=True)
    ecosystem_specific = models.JSONField(default=dict, blank=True)
    database_specific = models.JSONField(default=dict, blank=True)
    severity = models.JSONField(default=list, blank=True)

    class Meta:
        indexes = [models.Index(fields=["ecosystem", "name"])]


class Finding(models.Model):
    """A package of a scanned image affected by an advisory."""

    # The references are checked by statement-level triggers, not by per-row constraints
    # (migration 0024: the per-row checks cost more than writing a fleet's new findings): the
    # package must be one of the scan's, the advisory must exist, and neither may be deleted
    # from under a finding. Deleting through the ORM cascades as for any foreign key.
    # No index of its own for scan: the (scan, severity) index below serves every lookup by
    # scan, and one index fewer to write matters when an import rewrites a fleet's findings.
    scan = models.ForeignKey(ImageScan, on_delete=models.CASCADE, related_name="findings", db_index=False,
                             db_constraint=False)
    package = models.ForeignKey(SbomPackage, on_delete=models.CASCADE, related_name="findings", db_constraint=False)
    advisory = models.ForeignKey(Advisory, on_delete=models.CASCADE, related_name="findings", db_constraint=False)
    vulnerability_id = models.CharField(max_length=120)  # indexed below, without a LIKE-pattern twin
    installed_version = models.CharField(max_length=200)
    fixed_version = models.CharField(max_length=200, blank=True, help_text="Empty: no fix available")
    severity = models.CharField(max_length=20)
    severity_source = models.CharField(max_length=60)

    class Meta:
        # No index serves `vulnerability_id LIKE 'prefix%'` (db_index=True would add one): the
        # search uses icontains, which no btree serves; every index costs an import its writes.
        indexes = [models.Index(fields=["scan", "severity"]),
                   models.Index(fields=["vulnerability_id"], name="compliance_finding_vuln_id")]

    @property
    def fixable(self) -> bool:
        return bool(self.fixed_version)


class ScanSeverityCount(models.Model):
    """How many findings of one severity a scan has, and how many of those have a fix: what the
    security overview and the images list add up, instead of counting a fleet's findings.

    Kept by database triggers on the findings table (migration 0018_scan_severity_counts), in the
    statement that changes the findings, so in the same transaction: every way findings change
    (a scan matched, an import's re-match writing by COPY, a report imported, a scan, a package
    or an advisory deleted and its findings with it, an UPDATE) keeps them, with no code path to
    forget. Written only by the triggers."""

    scan = models.ForeignKey(ImageScan, on_delete=models.CASCADE, related_name="severity_counts", db_index=False)
    severity = models.CharField(max_length=20)
    total = models.IntegerField()
    fixable = models.IntegerField()
    # Set from a sequence by every statement that changes this count's findings, even when the
    # numbers stay the same (a finding replaced by another of its severity): with the rows' scans
    # and numbers, a fingerprint of what the findings of those scans are (`fleet_summary` keys
    # the fleet's most widespread vulnerabilities by it).
    changed = models.BigIntegerField(default=0)

    class Meta:
        # The triggers' upsert needs this unique index; it serves every lookup by scan too.
        constraints = [models.UniqueConstraint(fields=["scan", "severity"], name="one_count_per_scan_and_severity")]

    def __str__(self):
        return f"scan {self.scan_id}: {self.total} {self.severity} ({self.fixable} fixable)"


class ScannedLayer(models.Model):
    """What reading one layer blob gave the scan (a record, compliance/sbom/layer_record.py), kept
    so that a layer seen before (every base layer, shared option layers) is never downloaded or
    read again: the scan replays the record, with the same result.

    Keyed by the blob's digest, checked as the blob was read (never the config's diff_ids, which
    an image author writes), by the registry it was read from (a foreign registry's scans only
    reuse that registry's records), and by the recipe: the record format, limits and code that
    made it. Records of another recipe are never read; `scanned_layers_prune` deletes them."""

    source = models.CharField(max_length=300, blank=True, help_text="Registry URL when not the portal's own")
    digest = models.CharField(max_length=80)
    recipe = models.CharField(max_length=64)
    record = models.BinaryField(editable=False, help_text="JSON of the record, zlib-compressed")
    size = models.PositiveIntegerField(help_text="Bytes of the stored record")
    created = models.DateTimeField(auto_now_add=True)
    used = models.DateTimeField(help_text="Last read by a scan (to the day)")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["source", "digest", "recipe"], name="one_record_per_layer")]
        indexes = [models.Index(fields=["used"], name="compliance_scannedlayer_used")]

    def __str__(self):
        return f"{self.digest} ({self.size} bytes)"


class PolicyException(models.Model):
    """A reviewed, scoped, expiring exception to the policy: a workflow, not an allowlist."""

    class Scope(models.TextChoices):
        IMAGE = "image", "This image (digest)"
        RECIPE = "recipe", "All builds of this image"
        TEAM = "team", "All images of the team"
        GLOBAL = "global", "Every image (reviewers only)"

    class Target(models.TextChoices):
        VULNERABILITY = "vulnerability", "A vulnerability"
        RULE = "rule", "A policy rule"
        PACKAGE = "package", "Every vulnerability of a package"

    class Reason(models.TextChoices):
        ACCEPTED_RISK = "accepted_risk", "Accepted risk"
        NOT_AFFECTED = "not_affected", "Not affected (false positive)"
        FIX_PENDING = "fix_pending", "Fix pending upstream"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending review"
        # A first approval of an exception that needs two: it does not apply yet.
        AWAITING_SECOND = "awaiting_second", "Awaiting second approval"
        APPROVED = "approved", "Approved"
        DENIED = "denied", "Denied"
        REVOKED = "revoked", "Revoked"
        EXPIRED = "expired", "Expired"

    # Both wait for a reviewer: the reviewers' queue ("pending" tab) lists them together.
    AWAITING_REVIEW = (Status.PENDING, Status.AWAITING_SECOND)

    scope = models.CharField(max_length=20, choices=Scope.choices)
    team = models.ForeignKey("portal.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="exceptions")
    recipe = models.ForeignKey("builds.Recipe", null=True, blank=True, on_delete=models.CASCADE, related_name="exceptions")
    digest = models.CharField(max_length=80, blank=True)
    target_kind = models.CharField(max_length=20, choices=Target.choices)
    target = models.CharField(max_length=200, help_text="Vulnerability id, rule id or package name")
    reason = models.CharField(max_length=20, choices=Reason.choices)
    justification = models.TextField()
    ticket = models.URLField(blank=True)
    end_when_fixed = models.BooleanField(default=True, help_text="Stops applying once a fixed version is available")
    expires_at = models.DateTimeField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING, db_index=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_comment = models.TextField(blank=True)
    approvals_required = models.PositiveSmallIntegerField(
        default=1, help_text="2 when the exception may waive a Critical finding (see compliance/exceptions/approvals.py)")
    # Set by the reminder job when it claims a reminder, so each is sent at most once.
    reminded_14d_at = models.DateTimeField(null=True, blank=True)
    reminded_3d_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at"]

    def __str__(self):
        return f"exception {self.pk}: {self.target_kind} {self.target} ({self.get_scope_display()})"


class ExceptionApproval(models.Model):
    """One reviewer's approval; an exception needing two has two rows from two reviewers."""

    exception = models.ForeignKey(PolicyException, on_delete=models.CASCADE, related_name="approvals")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    comment = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created"]
        constraints = [models.UniqueConstraint(fields=["exception", "reviewer"], name="one_approval_per_reviewer")]


class SigningKey(models.Model):
    """A public key the portal signs published images with (compliance/attestations/keyring.py).

    The private half lives in a file or the environment, never in the database. One key is active;
    a rotated key stays trusted for verification until `verify_until` (the rotation's overlap), by
    which time the periodic refresh has signed every published image again with the new key."""

    key_id = models.CharField(max_length=64, unique=True, help_text="hex sha256 of the DER public key")
    algorithm = models.CharField(max_length=30, default="ecdsa-p256-sha256")
    public_key = models.TextField(help_text="PEM SubjectPublicKeyInfo")
    active = models.BooleanField(default=True)
    created = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True)
    verify_until = models.DateTimeField(null=True, blank=True,
                                        help_text="After this, signatures by the retired key no longer verify")

    class Meta:
        ordering = ["-created"]
        constraints = [models.UniqueConstraint(fields=["active"], condition=models.Q(active=True),
                                               name="one_active_signing_key")]

    def __str__(self):
        return f"{self.algorithm} {self.key_id[:16]}"


class Attestation(models.Model):
    """A signed document attached to a published image's digest in the registry (the rows are the
    portal's record; the registry copy is what verifiers read). Verdict attestations accumulate:
    a new one is written whenever the image's verdict changes, and the old ones stay."""

    class Kind(models.TextChoices):
        SIGNATURE = "signature", "Image signature"
        PROVENANCE = "provenance", "Build provenance (SLSA v1)"
        VERDICT = "verdict", "Compliance verdict"
        SBOM = "sbom", "SBOM (CycloneDX)"

    build = models.ForeignKey(Build, on_delete=models.CASCADE, related_name="attestations")
    verdict = models.ForeignKey(Verdict, null=True, blank=True, on_delete=models.SET_NULL, related_name="attestations")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    predicate_type = models.CharField(max_length=200, blank=True)
    repository = models.CharField(max_length=300)
    digest = models.CharField(max_length=80, help_text="The image digest the document is about")
    manifest_digest = models.CharField(max_length=80, help_text="The registry manifest holding it")
    key_id = models.CharField(max_length=64)
    document = models.JSONField(help_text="The sigstore bundle (or, for a signature, its payload and signature)")
    compliant = models.BooleanField(null=True, blank=True, help_text="Verdicts: what the verdict said")
    valid_until = models.DateTimeField(null=True, blank=True, help_text="Verdicts: when verifiers stop accepting it")
    created = models.DateTimeField(auto_now_add=True)

    class LogState(models.TextChoices):
        OFF = "", "Not logged (no transparency log is set)"
        PENDING = "pending", "Waiting for the transparency log"
        RECORDED = "recorded", "In the transparency log"
        REFUSED = "refused", "Refused by the transparency log"

    # The optional Rekor upload (compliance/attestations/transparency.py); verification never needs it.
    tlog_state = models.CharField(max_length=10, choices=LogState.choices, blank=True, default="")
    tlog_entry = models.JSONField(default=dict, blank=True, help_text="Where the log put it: log, uuid, logIndex, integratedTime")
    tlog_error = models.CharField(max_length=500, blank=True)
    tlog_attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["-created", "-id"]
        # by image: whether anything of it was attached in a repository yet (every publication asks)
        indexes = [models.Index(fields=["build", "kind", "-created"]),
                   models.Index(fields=["digest", "repository"], name="attestation_image"),
                   models.Index(fields=["id"], name="attestation_tlog_pending", condition=models.Q(tlog_state="pending"))]
