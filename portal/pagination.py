"""Pages of API lists: `?limit=` and `?offset=`, bounded.

DRF's LimitOffsetPagination without a `max_limit` passes any limit to the database: a huge one
returns every row in one answer, and one past PostgreSQL's bigint (`?limit=9223372036854775808`)
makes the query fail with a 500. It also reads `?limit=abc` or `?limit=-5` as "the default",
which hides a client's mistake.

Here a limit above API_MAX_PAGE_SIZE is clamped to it, as a client asking for "as many as you
can" expects: it gets a full page and the `next` link to the rest (the answer's `count` says how
many there are), so nothing is silently missing. A limit or offset that is not a whole number in
range (text, negative, zero limit) is the client's error and answers 400 naming the parameter.
An offset past the end gives an empty page, whatever its size (DRF never sends it to the database).
"""
import re

from django.conf import settings
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination

WHOLE_NUMBER = re.compile(r"[0-9]+")


def _whole_number(request, name: str, *, least: int) -> int | None:
    """The query parameter as an int >= least, None when absent; 400 when it is anything else."""
    text = request.query_params.get(name)
    if text is None:
        return None
    if not WHOLE_NUMBER.fullmatch(text) or int(text) < least:
        raise ValidationError({name: f"A whole number of at least {least}."})
    return int(text)


class BoundedLimitOffsetPagination(LimitOffsetPagination):
    @property
    def max_limit(self) -> int:
        return settings.API_MAX_PAGE_SIZE

    def get_limit(self, request):
        limit = _whole_number(request, self.limit_query_param, least=1)
        return self.default_limit if limit is None else min(limit, self.max_limit)

    def get_offset(self, request):
        return _whole_number(request, self.offset_query_param, least=0) or 0

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.limit_query_param:
                parameter["schema"]["minimum"] = 1
                parameter["description"] = (f"Results per page (default {self.default_limit}); a larger number than "
                                            f"{self.max_limit} is read as {self.max_limit}: follow `next` for the rest.")
            elif parameter["name"] == self.offset_query_param:
                parameter["schema"]["minimum"] = 0
        return parameters
