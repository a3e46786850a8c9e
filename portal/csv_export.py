"""CSV downloads: one response for every table the portal exports.

Cells hold what people typed (recipe names, exception reasons, Dockerfile-derived package names,
error messages). A spreadsheet runs a cell that starts with = + - @ (or a tab or carriage return
before one) as a formula, so such a text cell is written with a leading apostrophe, as OWASP's
advice on CSV injection says; numbers stay numbers. The file name is reduced to safe characters:
part of it can come from the URL (a vulnerability id).
"""
import csv
import re
from collections.abc import Iterable

from django.http import HttpResponse

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value):
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_filename(name: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", name.removesuffix(".csv")).strip("-.") or "export"
    return stem[:120] + ".csv"


def csv_response(filename: str, columns: Iterable[str], rows: Iterable[Iterable]) -> HttpResponse:
    """`rows` may be a generator: it is written as it is read (a queryset's iterator, say)."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{csv_filename(filename)}"'
    writer = csv.writer(response)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([csv_cell(value) for value in row])
    return response
