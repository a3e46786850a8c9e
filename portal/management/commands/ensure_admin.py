import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from portal.models import GlobalRole, Membership, Team


class Command(BaseCommand):
    help = "Create the first admin (platform admin + security reviewer, member of team 'demo') and print the login."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument("--password", default="", help="Default: a new random password (only when creating)")

    def handle(self, *args, username, password, **options):
        User = get_user_model()
        user = User.objects.filter(username=username).first()
        team, _ = Team.objects.get_or_create(slug="demo", defaults={"name": "Demo team"})
        if user is None:
            password = password or secrets.token_urlsafe(12)
            user = User.objects.create_superuser(username=username, password=password, email="")
            message = f"Login: {username} / {password}"
        else:
            message = f"Login: {username} (exists; password unchanged — `manage.py changepassword {username}` to reset)"
        Membership.objects.get_or_create(user=user, team=team, defaults={"role": Membership.Role.OWNER})
        for kind in GlobalRole.Kind.values:
            GlobalRole.objects.get_or_create(user=user, kind=kind)
        self.stdout.write(message)
