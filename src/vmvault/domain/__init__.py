"""Pure rules of vmvault: policies, schedules, tiers and retention.

Nothing in this package performs I/O or reads the clock; every function that depends on the
current time takes ``now`` as a parameter (DESIGN.md §2).
"""
