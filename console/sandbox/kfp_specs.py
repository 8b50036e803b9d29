"""Compiled pipelines: what the KFP SDK (2.x) submits for a pipeline of lightweight Python
components. Each executor embeds its component's source, which is what makes real runs heavy."""

from __future__ import annotations

from typing import Any

_KFP_SDK = "2.9.0"
_PIP_BOOTSTRAP = (
    "\nif ! [ -x \"$(command -v pip)\" ]; then\n    python3 -m ensurepip || python3 -m ensurepip --user || "
    "apt-get install python3-pip\nfi\n\nPIP_DISABLE_PIP_VERSION_CHECK=1 python3 -m pip install --quiet "
    f"--no-warn-script-location 'kfp=={_KFP_SDK}' '--no-deps' 'typing-extensions>=3.7.4,<5; "
    "python_version<\"3.9\"'  &&  python3 -m pip install --quiet --no-warn-script-location 'pandas==2.2.2' "
    "'pyarrow==16.1.0' 's3fs==2024.6.0' 'scikit-learn==1.5.0' && \"$0\" \"$@\"\n")
_LAUNCHER = ("\nprogram_path=$(mktemp -d)\n\nprintf \"%s\" \"$0\" > \"$program_path/ephemeral_component.py\"\n"
             "_KFP_RUNTIME=true python3 -m kfp.dsl.executor_main                         "
             "--component_module_path                         \"$program_path/ephemeral_component.py\"                         "
             "\"$@\"\n")


def _component_source(func: str, params: list[str]) -> str:
    args = ",\n    ".join([f"{p}: str" for p in params] + ["dataset: Input[Dataset]", "output: Output[Dataset]"])
    body = [
        "import kfp",
        "from kfp import dsl",
        "from kfp.dsl import *",
        "from typing import *",
        "",
        f"def {func}(\n    {args},\n):",
        f'    """{func.replace("_", " ").capitalize()}: reads the upstream dataset, checks it and writes its output."""',
        "    import json",
        "    import logging",
        "    import os",
        "    import time",
        "",
        "    import pandas as pd",
        "    import pyarrow.parquet as pq",
        "",
        "    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(levelname)s %(message)s')",
        "    log = logging.getLogger(__name__)",
        "    started = time.time()",
        "    frame = pd.read_parquet(dataset.path) if os.path.exists(dataset.path) else pd.DataFrame()",
        "    log.info('read %d rows x %d columns from %s', len(frame), len(frame.columns), dataset.uri)",
        "    nulls = frame.isna().mean().to_dict() if len(frame) else {}",
        "    bad = {column: share for column, share in nulls.items() if share > 0.01}",
        "    if bad:",
        "        raise ValueError(f'columns with too many nulls: {json.dumps(bad, sort_keys=True)}')",
        "    frame = frame.dropna().reset_index(drop=True)",
        "    os.makedirs(os.path.dirname(output.path), exist_ok=True)",
        "    pq.write_table(pyarrow.Table.from_pandas(frame), output.path, compression='zstd')",
        "    output.metadata['rows'] = len(frame)",
        "    output.metadata['columns'] = list(frame.columns)",
        "    output.metadata['seconds'] = round(time.time() - started, 3)",
        "    log.info('wrote %d rows to %s in %.1fs', len(frame), output.uri, time.time() - started)",
        "",
    ]
    return "\n".join(body)


def pipeline_spec(name: str, tasks: list[str], params: list[str]) -> dict[str, Any]:
    """A compiled PipelineSpec (schemaVersion 2.1.0) of a linear pipeline of lightweight components."""
    string = {"parameterType": "STRING"}
    dataset = {"artifactType": {"schemaTitle": "system.Dataset", "schemaVersion": "0.0.1"}}
    components: dict[str, Any] = {}
    executors: dict[str, Any] = {}
    dag: dict[str, Any] = {}
    for index, task in enumerate(tasks):
        func = task.replace("-", "_")
        components[f"comp-{task}"] = {
            "executorLabel": f"exec-{task}",
            "inputDefinitions": {"parameters": {p: dict(string) for p in params},
                                 **({"artifacts": {"dataset": dataset}} if index else {})},
            "outputDefinitions": {"artifacts": {"output": dataset}},
        }
        executors[f"exec-{task}"] = {"container": {
            "args": ["--executor_input", "{{$}}", "--function_to_execute", func],
            "command": ["sh", "-c", _PIP_BOOTSTRAP, "sh", "-ec", _LAUNCHER, _component_source(func, params)],
            "image": "python:3.11-slim",
            "resources": {"cpuLimit": 4.0, "memoryLimit": 17.179869184, "resourceCpuLimit": "4",
                          "resourceMemoryLimit": "16Gi"} if task == "train-model" else {},
        }}
        inputs: dict[str, Any] = {"parameters": {p: {"componentInputParameter": p} for p in params}}
        entry: dict[str, Any] = {"cachingOptions": {"enableCache": True}, "componentRef": {"name": f"comp-{task}"},
                                 "inputs": inputs, "taskInfo": {"name": task}}
        if index:
            previous = tasks[index - 1]
            inputs["artifacts"] = {"dataset": {"taskOutputArtifact": {"outputArtifactKey": "output",
                                                                      "producerTask": previous}}}
            entry["dependentTasks"] = [previous]
        dag[task] = entry
    return {
        "components": components,
        "deploymentSpec": {"executors": executors},
        "pipelineInfo": {"name": name},
        "root": {"dag": {"tasks": dag}, "inputDefinitions": {"parameters": {p: dict(string) for p in params}}},
        "schemaVersion": "2.1.0",
        "sdkVersion": f"kfp-{_KFP_SDK}",
    }
