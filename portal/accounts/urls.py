"""The signed-in user's API tokens page."""
from django.urls import path

from portal.accounts import views

urlpatterns = [
    path("account/password/", views.PasswordChange.as_view(), name="account-password"),
    path("account/tokens/", views.api_tokens, name="account-tokens"),
    path("account/tokens/<int:pk>/rotate", views.api_token_rotate, name="account-token-rotate"),
    path("account/tokens/<int:pk>/revoke", views.api_token_revoke, name="account-token-revoke"),
]
