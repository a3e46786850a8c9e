from django.urls import path

from compliance.attestations import views

urlpatterns = [
    path(".well-known/image-portal/signing-keys.json", views.well_known_keys, name="well-known-signing-keys"),
    path(".well-known/image-portal/signing-keys.pem", views.well_known_public_keys_pem, name="well-known-signing-keys-pem"),
    path(".well-known/image-portal/verdict-v1.schema.json", views.verdict_schema, name="verdict-schema"),
    path("signing-keys", views.signing_keys_page, name="signing-keys"),
]
