"""axe-core (shipped inside axe-playwright-python) run on the page a browser test is looking at.

A serious or critical violation of WCAG 2.0/2.1 A and AA fails the test with what to fix: rule,
impact, the elements (CSS selectors) and axe's help. Minor and moderate ones do not fail; they are
written to test-artifacts/axe/NAME.json so they can be read and fixed later."""
import json

from axe_playwright_python.sync_playwright import Axe

from tests.conftest import ARTIFACTS

AXE_DIR = ARTIFACTS / "axe"
WCAG_A_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
FAILING_IMPACTS = {"serious", "critical"}
_axe = Axe()


# Resolves once no htmx request has been in flight for 600 ms: longer than the longest hx-trigger
# delay of the templates (500 ms), shorter than the gap between two polls (every 1 s). False after 30 s.
_HTMX_QUIET = """() => new Promise(resolve => {
  const started = performance.now();
  let quietSince = started;
  (function look() {
    const now = performance.now();
    if (document.querySelector('.htmx-request')) quietSince = now;
    if (now - quietSince >= 600) resolve(true);
    else if (now - started > 30000) resolve(false);
    else setTimeout(look, 25);
  })();
})"""


def axe_violations(page) -> list[dict]:
    """Every WCAG A/AA violation axe finds on the page as it is now (after htmx swaps too), once htmx
    is quiet: while a request is in flight its target is dimmed on purpose (`.htmx-request` lowers the
    builder preview's opacity), which axe reads as too little contrast. A field typed into just before
    starts its request after the trigger's delay, possibly while axe is reading the page: the quiet
    period outlasts the delay."""
    assert page.evaluate(_HTMX_QUIET), f"htmx never went quiet on {page.url}"
    options = {"runOnly": {"type": "tag", "values": WCAG_A_AA}, "resultTypes": ["violations"]}
    return _axe.run(page, options=options).response["violations"]


def describe(violation: dict) -> str:
    targets = "; ".join(" ".join(node["target"]) for node in violation["nodes"])
    return f"{violation['id']} ({violation['impact']}): {targets}\n    {violation['help']} ({violation['helpUrl']})"


def axe_check(page, name: str) -> None:
    """Fail on serious or critical violations; keep the lesser ones in the artifacts folder."""
    violations = axe_violations(page)
    lesser = [v for v in violations if v["impact"] not in FAILING_IMPACTS]
    if lesser:
        AXE_DIR.mkdir(parents=True, exist_ok=True)
        report = [{"url": page.url, "id": v["id"], "impact": v["impact"], "help": v["help"],
                   "targets": [node["target"] for node in v["nodes"]]} for v in lesser]
        (AXE_DIR / f"{name}.json").write_text(json.dumps(report, indent=2))
    failing = [v for v in violations if v["impact"] in FAILING_IMPACTS]
    assert not failing, f"axe on {name} ({page.url}):\n" + "\n".join(describe(v) for v in failing)
