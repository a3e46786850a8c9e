from django.urls import path

from curation import views

urlpatterns = [
    path("builds/<int:pk>/propose-base", views.build_propose_base, name="build-propose-base"),
]
