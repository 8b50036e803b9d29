"""The local sandbox: test doubles, speaking the real wire protocols, for the systems the console
talks to (Kubernetes API + KServe, Kubeflow Pipelines, Prometheus). 127.0.0.1 only.

Entry points: console.sandbox.runner.Sandbox (in-process) and `mlops-console sandbox up`.
"""


def die_with_parent() -> None:
    """In the child, before exec: ask Linux to SIGTERM it when the sandbox process dies, so a
    killed test run or console never leaves a sandbox or a Prometheus behind. (Linux ties this to the thread that
    started the child: start the sandbox from a thread that lives as long as it does.)"""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
