"""People pages (platform admins), and the public page an invitation's link opens."""
from django.urls import path

from portal.people import views

urlpatterns = [
    path("people/", views.people_list, name="people-list"),
    path("people/<int:pk>/roles", views.person_role, name="person-role"),
    path("people/<int:pk>/active", views.person_active, name="person-active"),
    path("people/<int:pk>/password", views.person_password_reset, name="person-password-reset"),
    path("people/invitations", views.invitation_create, name="invitation-create"),
    path("people/invitations/<int:pk>/resend", views.invitation_resend, name="invitation-resend"),
    path("people/invitations/<int:pk>/revoke", views.invitation_revoke, name="invitation-revoke"),
    # Public: the invitee has no account yet (the token is the credential).
    path("invitations/<str:token>", views.invitation_accept, name="invitation-accept"),
]
