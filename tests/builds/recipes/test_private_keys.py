"""A private key pasted into a recipe is refused at every door and never stored: not in the
recipe's values, not in a build's snapshot, not in a Dockerfile recipe's build arguments."""
import json

import pytest
from django.urls import reverse

from builds.dockerfile.services import recipe_save_dockerfile
from builds.errors import CompositionError
from builds.models import Build, Recipe, RecipeComponent
from builds.recipes.services import recipe_save
from catalog.models import BaseImage, Component, ComponentVersion
from tests.builds.test_api import api_for
from tests.catalog.test_parameters import KEYS

pytestmark = pytest.mark.django_db
KEY = KEYS["pkcs8"]


@pytest.fixture
def debian(db):
    return BaseImage.objects.create(slug="debian-12", name="Debian 12", repository="base/debian", tag="bookworm",
                                    digest="sha256:" + "3" * 64, layer_digests=["sha256:" + "4" * 64], os_family="debian",
                                    approved=True)


@pytest.fixture
def company_ca(db):
    component = Component.objects.create(slug="ca-certificate", name="Company CA certificate", kind="option", order_weight=30)
    return ComponentVersion.objects.create(
        component=component, version="1", os_families=["debian"],
        parameters=[{"name": "certificate", "type": "pem", "label": "CA certificate (PEM)"},
                    {"name": "note", "type": "text", "label": "Note", "required": False}],
        fragment="COPY {{ certificate }} /usr/local/share/ca-certificates/portal-extra-ca.crt")


def stored_anywhere(text: str) -> bool:
    rows = [json.dumps(v) for v in RecipeComponent.objects.values_list("values", flat=True)]
    rows += [json.dumps(s) for s in Build.objects.values_list("snapshot", flat=True)]
    rows += [json.dumps(a) for a in Recipe.objects.values_list("build_args", flat=True)]
    marker = text.strip().splitlines()[1]  # a line of the key's body
    return any(marker in row for row in rows)


def test_the_api_refuses_a_certificate_with_its_key_and_stores_nothing(member, debian, company_ca, pem):
    for values in ({"certificate": pem + KEY}, {"certificate": pem, "note": " ".join(KEYS["pkcs1"].split())}):
        response = api_for(member).post("/api/recipes/", {"team": "payments", "name": "with-ca", "base": "debian-12",
                                                          "components": [{"component": "ca-certificate", "values": values}]})
        assert response.status_code == 400, response.content
        assert "private key" in json.dumps(response.json())
    assert not Recipe.objects.exists() and not stored_anywhere(KEY) and not stored_anywhere(KEYS["pkcs1"])


def test_the_page_refuses_it_and_does_not_send_it_back(client, member, debian, company_ca, pem):
    client.force_login(member)
    response = client.post(reverse("recipe-new"), {"team": "payments", "name": "with-ca", "base": "debian-12",
                                                   "component": ["ca-certificate"],
                                                   "param-ca-certificate-certificate": pem + KEY})
    page = response.content.decode()
    assert response.status_code == 400 and "private key" in page
    assert KEY.splitlines()[1] not in page
    assert not Recipe.objects.exists()


def test_only_the_parameters_clean_values_are_stored(member, team, debian, company_ca, pem):
    recipe = recipe_save(user=member, team=team, name="with-ca", base=debian,
                         choices=[(company_ca, {"certificate": "\n" + pem + "\n", "smuggled": KEY})])
    assert recipe.choices.get().values == {"certificate": pem}, "canonical PEM; a name that is no parameter is dropped"
    assert not stored_anywhere(KEY)


def test_a_dockerfile_recipe_refuses_a_private_key_as_a_build_argument(member, team, busybox):
    with pytest.raises(CompositionError, match="DEPLOY_KEY.*private key"):
        recipe_save_dockerfile(user=member, team=team, name="own", dockerfile="ARG DEPLOY_KEY\nFROM base/busybox:1.35\n",
                               build_args={"DEPLOY_KEY": KEYS["bare base64, one line"]})
    response = api_for(member).post("/api/dockerfile-recipes/check/", {"dockerfile": "FROM base/busybox:1.35\n",
                                                                        "build_args": {"K": KEY}})
    assert response.status_code == 400 and "private key" in response.json()["detail"]
    assert not Recipe.objects.exists() and not stored_anywhere(KEY)
