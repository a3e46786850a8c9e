"""Writes of policy rules from the API (the admin writes through AuditedAdmin). Each change is
audited with the parameters before and after, as a policy change decides what may ship."""
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction

from compliance.models import PolicyRule
from compliance.policy.params import RuleParamsError, params_clean
from portal.audit import audit_record
from portal.rbac import is_platform_admin


class PolicyRuleInvalid(ValueError):
    """Bad input; `errors` maps field names to messages."""

    def __init__(self, errors: dict):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def policy_rule_writer_required(actor) -> None:
    """Only platform admins change rules (the API asks before it reads the request's body)."""
    if not is_platform_admin(actor):
        raise PermissionDenied("Only platform admins may change policy rules.")


@transaction.atomic
def policy_rule_save(*, actor, rule: PolicyRule | None = None, **fields) -> PolicyRule:
    """Create (rule None) or update a rule; `fields` are team, kind, enabled, action, params, note."""
    policy_rule_writer_required(actor)
    created = rule is None
    rule = rule or PolicyRule()
    before = {"enabled": rule.enabled, "action": rule.action, "params": rule.params} if not created else None
    for name, value in fields.items():
        setattr(rule, name, value)
    if rule.action not in PolicyRule.Action.values:
        raise PolicyRuleInvalid({"action": f"One of {', '.join(PolicyRule.Action.values)}."})
    try:
        rule.params = params_clean(rule.kind, rule.params)
    except RuleParamsError as error:
        raise PolicyRuleInvalid({"kind": error.errors["kind"]} if "kind" in error.errors else {"params": error.errors})
    rule.updated_by = actor
    try:
        with transaction.atomic():
            rule.save()
    except IntegrityError:
        where = f"team {rule.team.slug}" if rule.team_id else "the global policy"
        raise PolicyRuleInvalid({"kind": f"{where} already has a {rule.kind} rule: change that one."})
    audit_record(actor=actor, action=f"policy.rule.{'created' if created else 'changed'}", target=rule, team=rule.team,
                 kind=rule.kind, enabled=rule.enabled, rule_action=rule.action, params=rule.params, before=before)
    return rule


def policy_rule_delete(*, actor, rule: PolicyRule) -> None:
    """A team row deleted: the team follows the global rule again. A global row deleted: the
    built-in default of its kind applies (or nothing, for kinds without one)."""
    policy_rule_writer_required(actor)
    audit_record(actor=actor, action="policy.rule.deleted", target=rule, team=rule.team, kind=rule.kind,
                 params=rule.params)
    rule.delete()
