"""PORTAL_HTTPS: secure cookies, HSTS and the redirect to HTTPS when served over HTTPS; all off
for the local http://127.0.0.1:8000."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import override_settings

ROOT = Path(__file__).resolve().parents[3]
NAMES = ["SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS",
         "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_PROXY_SSL_HEADER"]


def settings_with(**env) -> dict:
    """The settings module as a fresh process reads it with this environment."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PORTAL_HTTPS", "SECURE_", "PORTAL_PROXY"))}
    code = ("import json, portal.settings as s; "
            f"print(json.dumps({{n: getattr(s, n, None) for n in {NAMES!r}}}))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=clean | env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_it_is_all_off_by_default():
    assert settings_with() == {"SESSION_COOKIE_SECURE": False, "CSRF_COOKIE_SECURE": False, "SECURE_SSL_REDIRECT": False,
                               "SECURE_HSTS_SECONDS": 0, "SECURE_HSTS_INCLUDE_SUBDOMAINS": False, "SECURE_PROXY_SSL_HEADER": None}


def test_https_turns_on_secure_cookies_hsts_and_the_redirect():
    found = settings_with(PORTAL_HTTPS="1")
    assert found["SESSION_COOKIE_SECURE"] and found["CSRF_COOKIE_SECURE"] and found["SECURE_SSL_REDIRECT"]
    assert found["SECURE_HSTS_SECONDS"] == 365 * 24 * 3600
    assert found["SECURE_PROXY_SSL_HEADER"] is None, "X-Forwarded-Proto is trusted only behind a declared proxy"


def test_behind_a_proxy_its_forwarded_proto_is_trusted():
    found = settings_with(PORTAL_HTTPS="true", PORTAL_PROXY_COUNT="1", SECURE_HSTS_SECONDS="600", SECURE_SSL_REDIRECT="false")
    assert found["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert found["SECURE_HSTS_SECONDS"] == 600 and found["SECURE_SSL_REDIRECT"] is False


def test_a_typo_in_the_switch_is_an_error_not_silence():
    with pytest.raises(subprocess.CalledProcessError) as failed:
        settings_with(PORTAL_HTTPS="yes please")
    assert "PORTAL_HTTPS must be true or false" in failed.value.stderr


@pytest.mark.django_db
def test_in_https_mode_responses_carry_hsts_and_secure_cookies(client):
    found = settings_with(PORTAL_HTTPS="1", PORTAL_PROXY_COUNT="1")
    found["SECURE_PROXY_SSL_HEADER"] = tuple(found["SECURE_PROXY_SSL_HEADER"])
    with override_settings(**found):
        plain = client.get("/login/")
        assert plain.status_code == 301 and plain["Location"].startswith("https://")
        response = client.get("/login/", HTTP_X_FORWARDED_PROTO="https")
        assert response.status_code == 200
        assert response["Strict-Transport-Security"] == "max-age=31536000"
        assert response.cookies["csrftoken"]["secure"] is True
