"""Robot accounts: a team's registry logins for machines (create, rotate, revoke; the secret shown
once; audited), with their pages and API. What a robot may pull is decided by the registry's
token endpoint (builds/registry_access)."""
