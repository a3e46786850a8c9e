"""Trivy and Grype JSON reports imported as findings of a build's image: parsing (pure), storing, API."""
