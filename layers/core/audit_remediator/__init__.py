"""Core of IoT Audit Remediator: models, rules, planner and the adapters the handlers wire together."""
