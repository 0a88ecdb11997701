"""``lantern serve --demo-key``, the last step of ``make quickstart``: the key and the example
request it prints work against the service it starts, and it first cleans what a dead
training process left in the registry."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from service_fixtures import free_port

PATIENCE = 180
NO_SUCH_PROCESS = 2**22 + 1
"""Above Linux's largest process id (``pid_max`` is at most 2**22)."""


def leave_a_dead_run(home) -> str:
    """A RUNNING run whose recorded owner process has ended, as a power cut leaves one."""
    from mlflow import MlflowClient

    from models import tracking

    client = MlflowClient(tracking_uri=home.tracking_uri, registry_uri=home.tracking_uri)
    experiment = client.create_experiment("lantern/left-by-a-power-cut")
    run = client.create_run(
        experiment,
        tags={
            tracking.OWNER_HOST_TAG: socket.gethostname(),
            tracking.OWNER_PID_TAG: str(NO_SUCH_PROCESS),
            tracking.OWNER_STARTED_TAG: "1.0",
        },
    )
    return run.info.run_id


def test_the_printed_demo_key_and_curl_get_a_prompt(service_home, tmp_path):
    left = leave_a_dead_run(service_home)
    port = free_port()
    out = tmp_path / "serve.log"
    process = subprocess.Popen(
        [Path(sys.executable).parent / "lantern", "serve", "--demo-key", "--port", str(port)],
        env=service_home.env(COLUMNS="300"),
        stdout=out.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + PATIENCE
        while True:
            assert process.poll() is None, f"lantern serve exited:\n{out.read_text()[-3000:]}"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"not ready:\n{out.read_text()[-3000:]}"
            time.sleep(0.5)
        printed = out.read_text()
        assert f"cleaned: run {left} was left RUNNING by a process that ended" in printed
        assert f"http://127.0.0.1:{port}/ui/" in printed
        curl = next(line.strip() for line in printed.splitlines() if "curl -s" in line)
        words = shlex.split(curl)
        key = re.fullmatch(r"Authorization: Bearer (\S+)", words[words.index("-H") + 1])[1]
        body = json.loads(words[words.index("-d") + 1])

        answer = httpx.post(
            words[words.index("POST") + 1],
            json=body,
            headers={"Authorization": f"Bearer {key}"},
            timeout=PATIENCE,
        )

        assert answer.status_code == 200, answer.text
        prompt = answer.json()
        assert prompt["child_id"] == body["child_id"]
        assert {m["model"] for m in prompt["models"]} == {"exclusion_neet", "serious_violence"}
        assert "advisory" in prompt["advisory_notice"].lower()
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=PATIENCE)
            except subprocess.TimeoutExpired:  # a slow shutdown is no failure of the test
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
