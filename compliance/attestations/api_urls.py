from django.urls import path

from compliance.attestations.api import ImageVerifyView, SigningKeysView

urlpatterns = [
    path("signing-keys/", SigningKeysView.as_view(), name="api-signing-keys"),
    path("images/verify/", ImageVerifyView.as_view(), name="api-image-verify"),
]
