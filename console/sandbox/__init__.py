"""The local sandbox: test doubles, speaking the real wire protocols, for the systems the console
talks to (Kubernetes API + KServe, Kubeflow Pipelines, Prometheus). 127.0.0.1 only.

Entry points: console.sandbox.runner.Sandbox (in-process) and `mlops-console sandbox up`.
"""
