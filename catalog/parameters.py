"""Typed parameters of catalog components: validate what users type before it goes anywhere.

Pure code. A spec is a dict from the catalog, e.g.
    {"name": "zone", "type": "timezone", "label": "Time zone", "default": "UTC"}
Types: string (needs a `pattern`), text (any single line), timezone, integer, port, choice, pem.
No value of any type may hold a private key: a parameter ends up in the image (a file, an ENV
line, the build's history), where anyone who pulls it reads it.
"""
import base64
import binascii
import re
import zoneinfo
from functools import lru_cache

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import Encoding, load_der_private_key

TYPES = {"string", "text", "timezone", "integer", "port", "choice", "pem"}
# A Dockerfile instruction ends at a newline, so no value may carry one (nor other controls).
CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")
MAX_TEXT = 1000
MAX_PEM = 64 * 1024


class ParameterError(ValueError):
    """A value a user typed is not acceptable; the message is shown to them as it is."""


# The armour of a private key (PEM of every kind: RSA, EC, DSA, OpenSSH, PKCS#8, encrypted; PGP)
# and PuTTY's key files, wherever they start in the value (a single-line field may hold one too).
PRIVATE_KEY_ARMOUR = re.compile(r"-----\s*BEGIN[A-Z0-9 ]*PRIVATE\s+KEY(?:\s+BLOCK)?\s*-----|PuTTY-User-Key-File-\d", re.I)
# A key pasted without its armour is a long base64 run that decodes to a private key's DER.
BASE64_RUN = re.compile(r"[A-Za-z0-9+/]{64,}={0,2}")
PRIVATE_KEY_REFUSED = ("this is a private key, which must never go into an image (anyone who pulls it reads it). "
                       "Paste the certificate only (-----BEGIN CERTIFICATE-----), and give keys to the container at run time.")


def _der_private_key(text: str) -> bool:
    try:
        der = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        return False
    try:
        load_der_private_key(der, password=None)
    except TypeError:  # encrypted: a private key all the same
        return True
    except (ValueError, UnsupportedAlgorithm):
        return False
    return True


def private_key_found(text: str) -> bool:
    """Whether `text` holds private key material, armoured or as bare base64 (one run, or the
    whole value once its white space is taken out)."""
    if PRIVATE_KEY_ARMOUR.search(text):
        return True
    runs = BASE64_RUN.findall(text)
    joined = "".join(text.split())
    if len(joined) >= 64 and BASE64_RUN.fullmatch(joined) and joined not in runs:
        runs.append(joined)
    return any(_der_private_key(run) for run in runs)


@lru_cache(maxsize=1)
def known_time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def spec_check(spec: dict) -> None:
    """Reject a malformed spec when an admin saves it, not when a user builds: everything the
    cleaners below read (pattern, choices, min and max) must be of a shape they can use, and a
    default must be a value they accept, since a recipe that sets nothing gets it."""
    if not isinstance(spec, dict):
        raise ParameterError(f"each parameter is an object with a name and a type, not {spec!r}")
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,39}", str(spec.get("name", ""))):
        raise ParameterError(f"parameter name {spec.get('name')!r} must be lower_snake_case")
    if spec.get("type") not in TYPES:
        raise ParameterError(f"parameter {spec['name']}: unknown type {spec.get('type')!r}")
    if spec["type"] == "string" and not spec.get("pattern"):
        raise ParameterError(f"parameter {spec['name']}: a string needs a pattern")
    if spec["type"] == "choice" and not spec.get("choices"):
        raise ParameterError(f"parameter {spec['name']}: a choice needs choices")
    if "choices" in spec and not (isinstance(spec["choices"], list) and all(isinstance(c, str) for c in spec["choices"])):
        raise ParameterError(f"parameter {spec['name']}: choices is a list of texts")
    if "pattern" in spec:
        try:
            re.compile(str(spec["pattern"]))
        except re.error as error:
            raise ParameterError(f"parameter {spec['name']}: the pattern is not a regular expression ({error})")
    for bound in ("min", "max"):
        if bound in spec and (isinstance(spec[bound], bool) or not isinstance(spec[bound], int)):
            raise ParameterError(f"parameter {spec['name']}: {bound} is a whole number")
    if spec.get("default") not in (None, ""):
        parameter_clean({**spec, "label": f"parameter {spec['name']}: the default"}, spec["default"])


def parameter_clean(spec: dict, raw) -> str:
    """One value, validated by type and returned as a canonical string."""
    label = spec.get("label", spec["name"])
    value = "" if raw is None else str(raw)
    if private_key_found(value):  # before any other check: no message may quote the value
        raise ParameterError(f"{label}: {PRIVATE_KEY_REFUSED}")
    if spec["type"] != "pem":
        value = value.strip()
        if CONTROL_CHARS.search(value):
            raise ParameterError(f"{label}: line breaks and control characters are not allowed.")
        if len(value) > MAX_TEXT:
            raise ParameterError(f"{label}: at most {MAX_TEXT} characters.")
    if value == "":
        if spec.get("required", True):
            raise ParameterError(f"{label}: a value is required.")
        return ""
    return CLEANERS[spec["type"]](spec, value, label)


def _string(spec, value, label):
    if not re.fullmatch(spec["pattern"], value):
        raise ParameterError(f"{label}: {spec.get('pattern_help', 'must match ' + spec['pattern'])}.")
    return value


def _text(spec, value, label):
    return value


def _timezone(spec, value, label):
    if value not in known_time_zones():
        raise ParameterError(f"{label}: {value!r} is not a time zone of the tz database (e.g. Europe/Paris).")
    return value


def _integer(spec, value, label, low=None, high=None):
    if not re.fullmatch(r"-?[0-9]{1,10}", value):
        raise ParameterError(f"{label}: a whole number is required.")
    number = int(value)
    low = spec.get("min", low)
    high = spec.get("max", high)
    if (low is not None and number < low) or (high is not None and number > high):
        raise ParameterError(f"{label}: must be between {low} and {high}.")
    return str(number)


def _port(spec, value, label):
    return _integer(spec, value, label, low=spec.get("min", 1024), high=spec.get("max", 65535))


def _choice(spec, value, label):
    if value not in spec["choices"]:
        raise ParameterError(f"{label}: choose one of {', '.join(spec['choices'])}.")
    return value


def _pem(spec, value, label):
    if len(value) > MAX_PEM:
        raise ParameterError(f"{label}: a certificate bundle is at most {MAX_PEM // 1024} KiB.")
    try:
        certificates = x509.load_pem_x509_certificates(value.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raise ParameterError(f"{label}: not a PEM certificate (expected -----BEGIN CERTIFICATE-----).")
    return "".join(c.public_bytes(Encoding.PEM).decode() for c in certificates)


CLEANERS = {
    "string": _string,
    "text": _text,
    "timezone": _timezone,
    "integer": _integer,
    "port": _port,
    "choice": _choice,
    "pem": _pem,
}


def parameters_clean(specs: list[dict], values: dict) -> tuple[dict, dict]:
    """All values of one component: (clean values, errors by parameter name)."""
    clean, errors = {}, {}
    for spec in specs:
        raw = values.get(spec["name"], spec.get("default"))
        try:
            clean[spec["name"]] = parameter_clean(spec, raw)
        except ParameterError as error:
            errors[spec["name"]] = str(error)
    return clean, errors
