"""Team pages."""
from django.urls import path

from portal.teams import views

urlpatterns = [
    path("teams/", views.team_list, name="team-list"),
    path("teams/<str:slug>/", views.team_detail, name="team-detail"),
    path("teams/<str:slug>/alerts", views.team_alerts, name="team-alerts"),
    path("teams/<str:slug>/members", views.team_member_add, name="team-member-add"),
    path("teams/<str:slug>/members/<int:membership_id>/role", views.team_member_role, name="team-member-role"),
    path("teams/<str:slug>/members/<int:membership_id>/remove", views.team_member_remove, name="team-member-remove"),
]
