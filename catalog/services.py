"""Curation writes: loading the starter catalog and pinning base images to registry digests."""
import logging

from django.db import transaction

from adapters.factory import registry_client
from adapters.registry import RegistryClient, RegistryError
from catalog import starter
from catalog.models import BaseImage, Component, ComponentVersion

log = logging.getLogger(__name__)


def base_image_pin(*, base: BaseImage, client: RegistryClient | None = None) -> BaseImage:
    """Record the digest and layers the registry holds for the base's tag right now."""
    client = client or registry_client("scanner")
    manifest, digest = client.manifest(base.repository, base.tag)
    base.digest = digest
    base.layer_digests = [layer["digest"] for layer in manifest["layers"]]
    base.save(update_fields=["digest", "layer_digests"])
    return base


@transaction.atomic
def starter_catalog_load(*, approve_bases: bool = True) -> list[str]:
    """Create what is missing from the starter catalog; never rewrite an existing version."""
    report = []
    for data in starter.BASE_IMAGES:
        base, created = BaseImage.objects.get_or_create(slug=data["slug"], defaults=data)
        try:
            base_image_pin(base=base)
            if approve_bases and not base.approved:
                base.approved = True
                base.save(update_fields=["approved"])
            report.append(f"base {base.slug}: {base.repository}@{base.digest}")
        except RegistryError as error:
            report.append(f"base {base.slug}: NOT in the registry ({error}); run `make base-images`")
    for data in starter.COMPONENTS:
        data = dict(data)
        versions = data.pop("versions")
        component, _ = Component.objects.update_or_create(slug=data["slug"], defaults=data)
        for version_data in versions:
            version = dict(version_data)
            if component.versions.filter(version=version["version"]).exists():
                continue
            new = ComponentVersion(component=component, **version)
            new.full_clean()
            new.save()
            report.append(f"component {component.slug} {new.version}: added")
    return report
