"""Who may do what in the registry: the portal is its token server (Distribution `auth: token`).
People and robots authenticate at /registry/token and get a short-lived token granting what the
portal's rules allow (grants); the portal's own processes mint service tokens directly
(adapters/registry_tokens.py)."""
