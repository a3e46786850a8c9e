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
