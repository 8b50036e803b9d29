"""The outside world: catalog, kube, pipelines, metrics.

Nothing in this package imports textual, screens or console. Adapters return plain
dataclasses and raise the error types in adapters.errors.
"""
