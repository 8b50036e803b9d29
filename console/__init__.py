"""mlops-console: the application layer (CLI, app composition, config, domain logic, sandbox)."""

__version__ = "0.1.0"
