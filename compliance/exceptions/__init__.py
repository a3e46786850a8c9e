"""Exceptions to the policy: requested by a team, decided by reviewers (two for what may waive a
Critical finding), scoped, expiring, reminded; which apply to a build now (applying); pages and API."""
