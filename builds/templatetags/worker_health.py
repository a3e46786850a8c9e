"""`{% worker_health %}`: the workers and queues panel of the security overview and the admin index
(a tag, so pages of other apps and the admin show it without importing builds)."""
from django import template

from builds.liveness import workers_health

register = template.Library()


@register.inclusion_tag("builds/_worker_health.html", takes_context=True)
def worker_health(context):
    return {"health": workers_health(), "request": context.get("request")}
