"""The one place that turns Settings into backend clients, for the CLI and the screens alike.

Each factory raises InvalidInput with the setting to fix when a backend is not configured.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from adapters.errors import InvalidInput
from console.config import Settings

if TYPE_CHECKING:
    from adapters.catalog_backend import CatalogBackend


def catalog_backend(settings: Settings) -> CatalogBackend:
    """The model catalog the screens and commands browse (adapters/catalog_backend.py). Opened for
    reading: never creates or changes a file. A second backend is one more branch here."""
    from adapters.catalog import Catalog

    return Catalog(settings.catalog, create=False)


def kube_client(settings: Settings) -> Any:
    from adapters.kube import KubeClient

    return KubeClient(kubeconfig=settings.kubeconfig, context=settings.context, namespace=settings.namespace)


def metrics_client(settings: Settings) -> Any:
    from adapters.metrics import MetricsClient

    if not settings.prometheus_url:
        raise InvalidInput("no Prometheus URL: pass --prometheus-url, set MLOPS_CONSOLE_PROMETHEUS_URL, "
                           "or set prometheus_url in the config; 'mlops-console demo' starts a sandbox that has one")
    return MetricsClient.from_settings(settings.prometheus_url, settings.prometheus, settings.metrics)


def pipelines_client(settings: Settings, environ: dict[str, str] | None = None) -> Any:
    from adapters.pipelines import PipelinesClient

    if not settings.kfp_url:
        raise InvalidInput("no Kubeflow Pipelines URL: pass --kfp-url URL, set MLOPS_CONSOLE_KFP_URL, or set "
                           "kfp_url in the config (top level or under [contexts.\"NAME\"]); "
                           "'mlops-console demo' starts a sandbox that has one")
    env = os.environ if environ is None else environ
    auth = settings.kfp
    token = auth.token
    if not token and auth.token_env:
        token = env.get(auth.token_env)
        if not token:
            raise InvalidInput(f"[kfp] token_env names {auth.token_env}, which is not set (or empty) in the environment")
    return PipelinesClient(settings.kfp_url, token=token, token_file=auth.token_file, cookie=auth.cookie,
                           user_header=auth.user_header or None, ca_file=auth.ca_file,
                           namespace=settings.namespace or auth.namespace,  # -n / the context's, then [kfp]
                           timeout=float(auth.timeout or 10.0))


def mlflow_client(settings: Settings, url: str | None = None, environ: dict[str, str] | None = None) -> Any:
    """A client for the MLflow tracking server at `url` (default: the configured one), with the
    credentials MLflow's own client reads from the environment (mlflow/utils/rest_utils.py)."""
    from adapters.mlflow import MlflowClient
    from console.config import parse_bool

    url = url or settings.mlflow.url
    if not url:
        raise InvalidInput("no MLflow URL: pass --mlflow-url URL, set MLOPS_CONSOLE_MLFLOW_URL or MLFLOW_TRACKING_URI, "
                           "or set url under [catalog.mlflow] in the config")
    env = os.environ if environ is None else environ
    insecure = settings.mlflow.insecure_tls
    if env.get("MLFLOW_TRACKING_INSECURE_TLS"):
        insecure = parse_bool("MLFLOW_TRACKING_INSECURE_TLS", env["MLFLOW_TRACKING_INSECURE_TLS"])
    return MlflowClient(url, token=env.get("MLFLOW_TRACKING_TOKEN") or None,
                        username=env.get("MLFLOW_TRACKING_USERNAME") or None,
                        password=env.get("MLFLOW_TRACKING_PASSWORD") or None,
                        ca_file=env.get("MLFLOW_TRACKING_SERVER_CERT_PATH") or settings.mlflow.ca_file,
                        client_cert=env.get("MLFLOW_TRACKING_CLIENT_CERT_PATH") or None, insecure=insecure,
                        timeout=settings.mlflow.timeout, concurrency=settings.mlflow.concurrency)
