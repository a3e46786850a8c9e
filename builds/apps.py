from django.apps import AppConfig


class BuildsConfig(AppConfig):
    name = "builds"

    def ready(self):
        from builds.metrics import BuildCollector
        from portal.ops.metrics import collector_register

        collector_register(BuildCollector())  # /metrics: builds by status, step durations
