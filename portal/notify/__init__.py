"""Notifications: the outbox and its sender, e-mail templates, preferences, SLA alerts, e-mail intake."""
