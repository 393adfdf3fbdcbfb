"""A LocalStack Lambda runtime executor that runs each Python execution environment as a host
process (``shim.py``) instead of a Docker container.

Selected with ``LAMBDA_RUNTIME_EXECUTOR=local``. The interpreter for runtime ``python3.12``
is ``$LOCAL_LAMBDA_PYTHON_python3_12``. Layers are ignored and timeouts are not enforced:
Baton bundles its dependencies, and its worker watches its own remaining time.
"""

import logging
import os
import shutil
import subprocess
import sys
import threading

from localstack import config
from localstack.services.lambda_.invocation.executor_endpoint import ExecutorEndpoint
from localstack.services.lambda_.invocation.plugins import RuntimeExecutorPlugin
from localstack.services.lambda_.invocation.runtime_executor import LambdaRuntimeException, RuntimeExecutor
from localstack.utils.net import get_free_tcp_port

LOG = logging.getLogger(__name__)
SHIM = os.path.join(os.path.dirname(__file__), "shim.py")
LOOPBACK = "127.0.0.1"


def python_for_runtime(runtime: str) -> str:
    """The interpreter for ``runtime``: ``LOCAL_LAMBDA_PYTHON_python3_12`` and so on."""
    env_key = "LOCAL_LAMBDA_PYTHON_" + (runtime or "").replace(".", "_")
    if os.environ.get(env_key):
        return os.environ[env_key]
    return shutil.which(runtime or "") or sys.executable


class LocalRuntimeExecutor(RuntimeExecutor):
    """One execution environment: a shim process serving invocations on a loopback port."""

    def __init__(self, id, function_version):
        super().__init__(id=id, function_version=function_version)
        self.executor_endpoint = ExecutorEndpoint(self.id)
        self.proc = None
        self.log_lines = []

    def start(self, env_vars):
        runtime = self.function_version.config.runtime or ""
        if not runtime.startswith("python"):
            raise LambdaRuntimeException(f"the local executor runs only Python runtimes, not {runtime}")
        self.executor_endpoint.start()
        port = get_free_tcp_port()
        task_root = str(self.function_version.config.code.get_unzipped_code_location())
        env = {key: str(value) for key, value in env_vars.items()}
        python = python_for_runtime(runtime)
        # The runtime's own bin folder first, as /var/lang/bin is on Lambda: its python3 and tools.
        path = os.pathsep.join([os.path.dirname(python), os.environ.get("PATH", "")])
        env.update(LAMBDA_TASK_ROOT=task_root, LOCAL_SHIM_PORT=str(port), PATH=path,
                   PYTHONUNBUFFERED="1", TMPDIR=os.environ.get("TMPDIR", "/tmp"))  # fmt: skip
        self.proc = subprocess.Popen(
            [python, SHIM], env=env, cwd=task_root,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        threading.Thread(target=self._pump, daemon=True).start()
        self.executor_endpoint.container_address = LOOPBACK
        self.executor_endpoint.container_port = port
        self.executor_endpoint.wait_for_startup()

    def _pump(self):
        for line in self.proc.stdout:
            self.log_lines.append(line)
            LOG.debug("[local-lambda %s] %s", self.function_version.id.function_name, line.rstrip())

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        try:
            self.executor_endpoint.shutdown()
        except Exception as exc:  # shutting down anyway: note it and go on
            LOG.debug("error shutting down endpoint: %s", exc)

    def get_address(self):
        return LOOPBACK

    def get_endpoint_from_executor(self):
        return LOOPBACK

    def get_runtime_endpoint(self):
        port = config.GATEWAY_LISTEN[0].port
        return f"http://{LOOPBACK}:{port}{self.executor_endpoint.get_endpoint_prefix()}"

    def invoke(self, payload):
        return self.executor_endpoint.invoke(payload)

    def get_logs(self):
        return "".join(self.log_lines)

    @classmethod
    def prepare_version(cls, function_version):
        if function_version.config.code:
            function_version.config.code.prepare_for_execution()

    @classmethod
    def cleanup_version(cls, function_version):
        pass

    @classmethod
    def validate_environment(cls):
        return True


class LocalRuntimeExecutorPlugin(RuntimeExecutorPlugin):
    """Entry point ``localstack.lambda.runtime_executor: local``."""

    name = "local"

    def load(self, *args, **kwargs):
        return LocalRuntimeExecutor
