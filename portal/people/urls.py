"""People pages (platform admins)."""
from django.urls import path

from portal.people import views

urlpatterns = [
    path("people/", views.people_list, name="people-list"),
    path("people/<int:pk>/roles", views.person_role, name="person-role"),
    path("people/<int:pk>/active", views.person_active, name="person-active"),
    path("people/<int:pk>/password", views.person_password_reset, name="person-password-reset"),
]
