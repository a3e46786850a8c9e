"""Our findings beside an imported Trivy or Grype report: pairing (pure), the selector, the page and the API."""
