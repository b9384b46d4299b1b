"""vmvault: policy-driven backup for self-hosted virtual machines, modelled on Azure Backup."""

__version__ = "0.1.0"
