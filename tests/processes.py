"""Runs of several `rnngen` processes that train together through jax.distributed."""

import socket
import subprocess


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("localhost", 0))
        return probe.getsockname()[1]


def cluster_overrides(num_processes: int) -> dict:
    """The distributed.* settings of a run of ``num_processes`` processes on this machine (add process_id)."""
    return {"distributed.initialize": "on", "distributed.coordinator_address": f"localhost:{free_port()}",
            "distributed.num_processes": num_processes}


def run_together(commands: list[list[str]], logs_dir, cwd, env, timeout: int = 240) -> list[tuple[int, str]]:
    """Starts every command at once and waits for all: (return code, stderr) of each. Their stderr goes
    to files in ``logs_dir`` (a full pipe could stall a process at a collective); stdout is dropped.
    A process still running after ``timeout`` seconds (a hang) is killed, and its return code is -9."""
    logs = [logs_dir / f"process_{index}.log" for index in range(len(commands))]
    handles = [open(log, "w") for log in logs]
    try:
        processes = [subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=handle, cwd=cwd, env=env)
                     for command, handle in zip(commands, handles)]
        try:
            for process in processes:
                process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
        finally:  # one that failed or hung leaves the others waiting at a collective
            for process in processes:
                process.kill()
                process.wait()
    finally:
        for handle in handles:
            handle.close()
    return [(process.returncode, log.read_text()) for process, log in zip(processes, logs)]
