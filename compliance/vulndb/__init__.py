"""Vulnerability database: version ordering per ecosystem and OSV range evaluation."""
