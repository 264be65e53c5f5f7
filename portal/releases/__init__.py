"""Fix packages and their delivery: immutable uploads tied to tickets, release notes, entitled downloads,
deliveries confirmed by second line.

Importing ``portal.releases.links`` registers this domain in the hook lists of tickets (close guard,
ticket page section) and search (published package titles); the app and the CLI import it.
"""
