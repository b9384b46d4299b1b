"""vmvault's command line (Typer). The ``vmvault`` entry point is ``cli.app:main``."""
