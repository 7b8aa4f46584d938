"""The monitoring dashboard: one live page over the API (health, anomalies, rollouts, incidents, events)."""
