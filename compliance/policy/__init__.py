"""The policy: the rules (pure), their parameters as data (params, ruleset: a team's effective rules),
hadolint (lint), the evaluation of a build's verdict, rule changes (services, change: re-evaluation
after a change); the policy page and API."""
