"""factory-boy factories shared by the tests."""
import factory
from django.contrib.auth import get_user_model

from portal.accounts.tokens import token_issue
from portal.models import GlobalRole, Membership, Team


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("pw-for-tests-1")


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"team{n}")
    name = factory.LazyAttribute(lambda t: t.slug.title())


def member_of(team, username=None, role=Membership.Role.MEMBER):
    user = UserFactory(username=username) if username else UserFactory()
    Membership.objects.get_or_create(user=user, team=team, defaults={"role": role})
    return user


def with_role(user, kind):
    GlobalRole.objects.get_or_create(user=user, kind=kind)
    return user


def api_token_for(user, name="tests") -> str:
    """A valid API token's secret for `user` (sent as `Authorization: Token <secret>`)."""
    return token_issue(user=user, name=name).secret
