"""Weekly verdict trend: per ISO week, how many published images were compliant and how many
were not at the end of that week (now, for the current week), from the verdicts stored then.

"Published images" follows the dashboard's rule for current images: per recipe, its latest build
published by that moment (an older tag replaced by a newer one no longer counts). Its state is
its latest verdict created by that moment; an image with no verdict yet is not counted.

Two queries whatever the data size or the number of weeks: the published builds, and only the
verdicts that CHANGED a build's outcome (a window function drops the repeats: re-evaluations
mostly confirm what was there). The weeks are then walked in Python.
"""
import bisect
import datetime
from collections import defaultdict
from dataclasses import dataclass

from django.db.models import F, Q, Window
from django.db.models.functions import Lag
from django.utils import timezone

from builds.models import Build
from compliance.models import Verdict

PERIODS = (12, 26, 52)


@dataclass(frozen=True)
class WeekPoint:
    label: str  # ISO week, e.g. "2026-W48"
    start: datetime.date  # its Monday
    end: datetime.datetime  # the moment counted: the week's end, or now for the current week
    compliant: int
    noncompliant: int

    @property
    def total(self) -> int:
        return self.compliant + self.noncompliant


def week_ends(weeks: int, now: datetime.datetime) -> list[tuple[datetime.date, datetime.datetime]]:
    """(Monday, end) of the last `weeks` ISO weeks, oldest first; the current week ends now."""
    local = timezone.localtime(now)
    monday = (local - datetime.timedelta(days=local.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    starts = [monday - datetime.timedelta(weeks=weeks - 1 - i) for i in range(weeks)]
    return [(start.date(), min(start + datetime.timedelta(weeks=1), now)) for start in starts]


def _published(teams, until):
    """{recipe: ([published_at, ...] ascending, [build id, ...])} of builds published by `until`."""
    by_recipe = defaultdict(lambda: ([], []))
    rows = (Build.objects.filter(team__in=teams, published_at__isnull=False, published_at__lte=until)
            .order_by("recipe_id", "published_at", "pk").values_list("recipe_id", "published_at", "pk"))
    for recipe_id, published_at, pk in rows:
        times, ids = by_recipe[recipe_id]
        times.append(published_at)
        ids.append(pk)
    return by_recipe


def _outcome_changes(teams, until):
    """{build: ([created, ...] ascending, [passed, ...])}: only the verdicts that changed the outcome."""
    previous = Window(Lag("passed"), partition_by=[F("build_id")], order_by=[F("created").asc(), F("pk").asc()])
    rows = (Verdict.objects.filter(build__team__in=teams, build__published_at__isnull=False, created__lte=until)
            .annotate(previous=previous).filter(Q(previous__isnull=True) | ~Q(previous=F("passed")))
            .order_by("build_id", "created", "pk").values_list("build_id", "created", "passed"))
    changes = defaultdict(lambda: ([], []))
    for build_id, created, passed in rows:
        times, states = changes[build_id]
        times.append(created)
        states.append(passed)
    return changes


def verdict_trend(teams, *, weeks: int = 12, now=None) -> list[WeekPoint]:
    """The trend over the last `weeks` ISO weeks for these teams' images, oldest week first."""
    now = now or timezone.now()
    ends = week_ends(weeks, now)
    published, changes = _published(teams, now), _outcome_changes(teams, now)
    points = []
    for start, end in ends:
        compliant = noncompliant = 0
        for times, ids in published.values():
            index = bisect.bisect_right(times, end) - 1
            if index < 0:
                continue  # not published yet at that moment
            verdict_times, states = changes.get(ids[index], ((), ()))
            latest = bisect.bisect_right(verdict_times, end) - 1
            if latest < 0:
                continue
            if states[latest]:
                compliant += 1
            else:
                noncompliant += 1
        year, week, _ = start.isocalendar()
        points.append(WeekPoint(f"{year}-W{week:02d}", start, end, compliant, noncompliant))
    return points
