"""Layer records kept in the database (compliance/sbom/layer_record.py): a layer any scan read
before, such as every base layer, is never downloaded or read again."""
import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from compliance.models import ScannedLayer
from compliance.sbom.layer_record import layer_recipe
from compliance.sbom.secrets import MAX_FILES

log = logging.getLogger(__name__)


class ScannedLayerStore:
    """`LayerRecords` (compliance/sbom/reader.py) of one registry's layers: `source` "" for the
    portal's own, else the registry URL. A record read from one registry never serves another:
    a registry the portal does not control could name any digest in a manifest it serves."""

    def __init__(self, *, source: str = ""):
        self.source = source

    def get(self, digests: list[str], recipe: str) -> dict[str, bytes]:
        rows = ScannedLayer.objects.filter(source=self.source, recipe=recipe, digest__in=set(digests))
        found = {digest: bytes(record) for digest, record in rows.values_list("digest", "record")}
        if found:  # at most one write a day per record, for the retention
            now = timezone.now()
            rows.filter(digest__in=found, used__lt=now - timedelta(days=1)).update(used=now)
        return found

    def put(self, digest: str, recipe: str, record: bytes) -> None:
        # Two scans may read the same new layer at once: the first record stays (they are equal).
        ScannedLayer.objects.bulk_create([ScannedLayer(source=self.source, digest=digest, recipe=recipe,
                                                       record=record, size=len(record), used=timezone.now())],
                                         ignore_conflicts=True)


def scanned_layers_prune(*, now=None) -> int:
    """Delete the records no scan will read: another recipe's (older code or limits), and those no
    scan used for SCANNED_LAYER_RETENTION_DAYS (a later scan of such a layer reads it again)."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.SCANNED_LAYER_RETENTION_DAYS)
    count, _ = ScannedLayer.objects.filter(~Q(recipe=layer_recipe(max_secret_files=MAX_FILES))
                                           | Q(used__lt=cutoff)).delete()
    if count:
        log.info("deleted %d layer records", count)
    return count
