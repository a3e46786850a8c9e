"""The registry credential of a Harbor scan request, kept out of the broker.

Harbor sends a short-lived robot credential (`registry.authorization`) with each scan request.
It is stored sealed on a row keyed by the scan, and the Celery message carries the scan id
alone: a broker (Redis) dump, a monitoring tool or a task log never sees it. The seal is Fernet
(AES and an HMAC) with a key derived from SECRET_KEY by HKDF, so a database dump alone does not
reveal it either. The row lives until the scan ends (done or failed), or HARBOR_CREDENTIAL_TTL_SECONDS
at most when a worker never gets to it (the hourly prune deletes it then); a redelivered message
finds it while the scan is still queued.
"""
import base64
from datetime import timedelta

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.utils import timezone

from compliance.models import ImageScan, ScanCredential


class CredentialUnavailable(Exception):
    """Harbor sent a credential, but it is gone (expired) or cannot be unsealed (SECRET_KEY changed)."""


def _fernet() -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
               info=b"image-portal harbor scan credential").derive(settings.SECRET_KEY.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def scan_credential_store(*, scan: ImageScan, authorization: str) -> None:
    """Keep the request's credential for the worker (none sent: nothing is kept)."""
    if authorization:
        ScanCredential.objects.create(scan=scan, sealed=_fernet().encrypt(authorization.encode()).decode(),
                                      expires_at=timezone.now() + timedelta(seconds=settings.HARBOR_CREDENTIAL_TTL_SECONDS))


def scan_credential_read(scan: ImageScan, *, sent: bool) -> str:
    """The Authorization value for the scan's registry ("" when Harbor sent none)."""
    if not sent:
        return ""
    stored = ScanCredential.objects.filter(scan=scan, expires_at__gt=timezone.now()).first()
    if stored is None:
        raise CredentialUnavailable("the registry credential Harbor sent expired before the scan started; "
                                    "Harbor asks again with a new one")
    try:
        return _fernet().decrypt(stored.sealed.encode()).decode()
    except InvalidToken:
        raise CredentialUnavailable("the registry credential Harbor sent cannot be read (the portal's SECRET_KEY "
                                    "changed since); Harbor asks again with a new one") from None


def scan_credential_forget(scan: ImageScan) -> None:
    ScanCredential.objects.filter(scan=scan).delete()


def scan_credentials_prune(*, now=None) -> int:
    """Credentials past their time: the worker never got to them (it died, or the queue was too long)."""
    deleted, _ = ScanCredential.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted
