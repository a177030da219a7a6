"""What operators see of the running bot: Prometheus metrics (`metrics`), log lines (`logging`),
and the health and readiness answers (`health`)."""
