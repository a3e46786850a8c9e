"""Accounts: personal API tokens that expire (shown once, stored hashed, rotated and revoked by
their owner) and the lockout of password guessing on the login page and the token endpoint."""
