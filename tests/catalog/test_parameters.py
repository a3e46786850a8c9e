import pytest

from catalog.parameters import ParameterError, parameter_clean, parameters_clean


def test_it_accepts_real_time_zones_and_refuses_made_up_ones():
    spec = {"name": "zone", "type": "timezone", "label": "Time zone"}
    assert parameter_clean(spec, " Europe/Paris ") == "Europe/Paris"
    with pytest.raises(ParameterError, match="not a time zone"):
        parameter_clean(spec, "Mars/Olympus")
    with pytest.raises(ParameterError):
        parameter_clean(spec, "../../etc/passwd")


def test_it_bounds_ports_and_integers():
    assert parameter_clean({"name": "p", "type": "port"}, "6300") == "6300"
    for bad in ["80", "70000", "63 00", "1e3", "-1"]:
        with pytest.raises(ParameterError):
            parameter_clean({"name": "p", "type": "port"}, bad)
    assert parameter_clean({"name": "n", "type": "integer", "min": 1, "max": 5}, "05") == "5"


def test_it_validates_pem_certificates(pem):
    spec = {"name": "certificate", "type": "pem", "label": "CA"}
    assert parameter_clean(spec, pem).startswith("-----BEGIN CERTIFICATE-----")
    with pytest.raises(ParameterError, match="not a PEM certificate"):
        parameter_clean(spec, "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n")
    with pytest.raises(ParameterError):
        parameter_clean(spec, "hello")


def test_it_reports_every_bad_value_by_name_and_uses_defaults():
    specs = [
        {"name": "zone", "type": "timezone", "default": "UTC"},
        {"name": "mode", "type": "choice", "choices": ["a", "b"]},
        {"name": "note", "type": "text", "required": False},
    ]
    clean, errors = parameters_clean(specs, {"mode": "c"})
    assert clean == {"zone": "UTC", "note": ""}
    assert set(errors) == {"mode"}


# -- private keys are refused in every parameter ---------------------------------------------------

def _keys():
    """Real private keys made for the test, in the forms people paste them."""
    import base64

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    rsa_key, ec_key, ed_key = rsa.generate_private_key(public_exponent=65537, key_size=2048), \
        ec.generate_private_key(ec.SECP256R1()), ed25519.Ed25519PrivateKey.generate()
    pem = serialization.Encoding.PEM
    forms = {
        "pkcs1": rsa_key.private_bytes(pem, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()),
        "pkcs8": ec_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
        "encrypted": rsa_key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                           serialization.BestAvailableEncryption(b"passphrase")),
        "openssh": ed_key.private_bytes(pem, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()),
    }
    texts = {name: data.decode() for name, data in forms.items()}
    der = ec_key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    texts["bare base64, one line"] = base64.b64encode(der).decode()
    texts["bare base64, wrapped"] = "\n".join(texts["bare base64, one line"][i:i + 64] for i in range(0, 200, 64))
    texts["armour on one line"] = " ".join(texts["pkcs1"].split())
    return texts


KEYS = _keys()
TYPES = [{"name": "certificate", "type": "pem", "label": "Company CA"},
         {"name": "note", "type": "text", "label": "Note"},
         {"name": "token", "type": "string", "pattern": r".*", "label": "Token"},
         {"name": "choice", "type": "choice", "choices": [KEYS["bare base64, one line"]], "label": "Choice"}]


@pytest.mark.parametrize("form", sorted(KEYS))
@pytest.mark.parametrize("spec", TYPES, ids=[t["type"] for t in TYPES])
def test_a_private_key_is_refused_in_every_parameter_type_without_quoting_it(spec, form):
    with pytest.raises(ParameterError, match="private key") as refused:
        parameter_clean(spec, KEYS[form])
    assert KEYS[form].strip()[30:60] not in str(refused.value)


def test_a_certificate_with_its_key_pasted_after_it_is_refused_whole(pem):
    with pytest.raises(ParameterError, match="private key"):
        parameter_clean({"name": "certificate", "type": "pem", "label": "CA"}, pem + KEYS["pkcs8"])
    assert parameter_clean({"name": "certificate", "type": "pem", "label": "CA"}, pem).startswith("-----BEGIN CERTIFICATE")
    assert parameter_clean({"name": "note", "type": "text"}, "A" * 900) == "A" * 900, "long base64-like text is not a key"
