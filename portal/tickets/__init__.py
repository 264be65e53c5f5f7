"""Tickets: registration, unique IDs, priorities and SLA clocks, the regulation's workflow, tracking."""
