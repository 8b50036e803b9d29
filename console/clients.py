"""The one place that turns Settings into backend clients, for the CLI and the screens alike.

Each factory raises InvalidInput with the setting to fix when a backend is not configured.
"""

from __future__ import annotations

import os
from typing import Any

from adapters.errors import InvalidInput
from console.config import Settings


def kube_client(settings: Settings) -> Any:
    from adapters.kube import KubeClient

    return KubeClient(kubeconfig=settings.kubeconfig, context=settings.context, namespace=settings.namespace)


def metrics_client(settings: Settings) -> Any:
    from adapters.metrics import MetricsClient

    if not settings.prometheus_url:
        raise InvalidInput("no Prometheus URL: pass --prometheus-url, set MLOPS_CONSOLE_PROMETHEUS_URL, "
                           "or set prometheus_url in the config")
    auth = settings.prometheus
    return MetricsClient(settings.prometheus_url, bearer_token=auth.bearer_token,
                         bearer_token_file=auth.bearer_token_file, username=auth.username,
                         password=auth.password, ca_file=auth.ca_file, timeout=auth.timeout)


def pipelines_client(settings: Settings) -> Any:
    from adapters.pipelines import PipelinesClient

    if not settings.kfp_url:
        raise InvalidInput("no Kubeflow Pipelines URL: pass --kfp-url, set MLOPS_CONSOLE_KFP_URL, "
                           "or set kfp_url in the config")
    auth = settings.kfp
    token = auth.token
    if not token and auth.token_env:
        token = os.environ.get(auth.token_env)
        if not token:
            raise InvalidInput(f"the KFP token variable {auth.token_env} (kfp.token_env in the config) is not set")
    return PipelinesClient(settings.kfp_url, token=token, token_file=auth.token_file, cookie=auth.cookie,
                           user_header=auth.user_header, ca_file=auth.ca_file, namespace=auth.namespace,
                           timeout=auth.timeout)
