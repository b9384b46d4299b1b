"""The ``vmvault`` command line: groups and options named as in ``az backup``."""
