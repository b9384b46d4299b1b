"""Use cases: every flow (vaults, policies, protection, backup, restore) is written here once.

The CLI, the REST API, the portal and the workers parse their input, call a service and render
what it returns.
"""
