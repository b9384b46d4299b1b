"""The vault tier: a content-addressed, deduplicated, compressed, encrypted chunk store.

The vault is self-describing (``docs/vault-format.md``); it never imports the catalog.
"""
