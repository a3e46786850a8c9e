"""Every failure code tells the user what to do next."""
import re
from pathlib import Path

from builds.errors import FAILURE_ADVICE, failure_message

ROOT = Path(__file__).resolve().parents[2]
CODE = re.compile(r"[\"']((?:build|scan|publish):(?:user|app):[a-z-]+)[\"']")


def test_it_lists_advice_for_every_failure_code_the_source_uses():
    used = {code for app in ("builds", "compliance", "portal", "adapters")
            for path in (ROOT / app).rglob("*.py") if path != ROOT / "builds" / "errors.py"
            for code in CODE.findall(path.read_text())}
    assert "build:user:out-of-memory" in used
    assert used <= FAILURE_ADVICE.keys(), f"codes without advice: {sorted(used - FAILURE_ADVICE.keys())}"


def test_it_adds_the_advice_once():
    message = failure_message("build:app:crash", "Internal error: boom")
    assert message == "Internal error: boom. " + FAILURE_ADVICE["build:app:crash"]
    assert failure_message("build:app:crash", message) == message


def test_it_leaves_messages_whose_advice_is_spelled_where_they_are_raised():
    text = "registry unreachable (127.0.0.1:5000): EOF. Nothing was published; retry the build once the registry is back."
    assert failure_message("build:app:registry-unreachable", text) == text


def test_it_names_the_memory_setting_for_an_out_of_memory_step():
    message = failure_message("build:user:out-of-memory", "Out of memory (limit 64 MiB) in Step 3/4 : RUN make")
    assert message.startswith("Out of memory (limit 64 MiB) in Step 3/4 : RUN make. Make the step use less memory")
    assert "BUILD_MEMORY_BYTES" in message
