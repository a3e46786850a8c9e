"""An enforced Content-Security-Policy that the portal's own pages live within: no inline script,
style or event handler anywhere in the templates, htmx told not to inject styles or eval."""
import re
from pathlib import Path

import pytest

from tests.factories import api_token_for

ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.django_db


def policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {name: values for name, *values in (part.split() for part in header.split(";") if part.strip())}


def test_pages_carry_the_enforced_policy(client, member):
    client.force_login(member)
    response = client.get("/")
    assert response.status_code == 200
    assert "Content-Security-Policy-Report-Only" not in response
    directives = policy(response)
    assert directives["default-src"] == ["'self'"]
    assert directives["script-src"] == ["'self'"] and directives["style-src"] == ["'self'"]
    assert directives["object-src"] == ["'none'"] and directives["frame-ancestors"] == ["'none'"]
    assert directives["form-action"] == ["'self'"] and directives["base-uri"] == ["'none'"]
    assert not any("unsafe" in value for values in directives.values() for value in values)


def test_the_login_page_and_the_api_work_under_it(client, member):
    assert "Content-Security-Policy" in client.get("/login/")
    response = client.get("/api/builds/", HTTP_AUTHORIZATION=f"Token {api_token_for(member)}")
    assert response.status_code == 200 and response.json()["count"] == 0


INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/(?:ld\+)?json\")[^>]*>", re.I), "an inline <script>"),
    (re.compile(r"<style\b", re.I), "a <style> element"),
    (re.compile(r"\sstyle\s*=", re.I), "a style attribute"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "an inline event handler"),
    (re.compile(r"javascript:", re.I), "a javascript: URL"),
    (re.compile(r"\bhx-on\b|hx-on:|hx-vals=['\"]js:|hx-vars", re.I), "htmx code in an attribute (needs eval)"),
]


def test_no_template_has_inline_script_or_style():
    found = []
    for template in sorted((ROOT / "templates").rglob("*.html")):
        text = template.read_text()
        for pattern, what in INLINE:
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                found.append(f"{template.relative_to(ROOT)}:{line}: {what}")
    assert not found, "the Content-Security-Policy refuses these; move them to static/:\n" + "\n".join(found)


def test_htmx_is_configured_for_the_policy(client, member):
    client.force_login(member)
    page = client.get("/").content.decode()
    assert '<meta name="htmx-config" content=\'{"includeIndicatorStyles": false, "allowEval": false}\'>' in page
    css = (ROOT / "static/css/portal.css").read_text()
    assert ".htmx-indicator" in css, "the indicator rules htmx no longer injects"
