"""What operators and orchestrators read: liveness and readiness (health), Prometheus metrics."""
