"""What the gateway tells its operator: Prometheus metrics (``metrics``) and JSON logs (``logs``)."""
