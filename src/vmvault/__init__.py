"""vmvault: policy-driven backup for self-hosted virtual machines, modelled on Azure Backup."""

__version__ = "0.1.0"


def _guard_start_up() -> None:
    """In the ``vmvault`` command only: Ctrl-C while it starts is one line, not a traceback
    (``cli/interrupt.py``). This is the first vmvault code the command runs."""
    from vmvault.cli.interrupt import guard_start_up

    guard_start_up()


_guard_start_up()
