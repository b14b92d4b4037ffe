"""Child processes of the local platform: free ports, and stopping them the way ECS does."""

import signal
import socket
import subprocess
import time
from collections.abc import Sequence


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def stop_process(process: "subprocess.Popen[bytes]", timeout: float = 15.0) -> None:
    stop_processes([process], timeout)


def stop_processes(processes: Sequence["subprocess.Popen[bytes]"], timeout: float = 15.0) -> None:
    """SIGTERM to all at once (each drains in parallel, as ECS stops tasks), SIGKILL to any
    still running after `timeout`."""
    running = [process for process in processes if process.poll() is None]
    for process in running:
        process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for process in running:
        try:
            process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def describe_exit(returncode: int) -> str:
    """`1`, or `SIGKILL` for a process a signal ended (Popen reports it as `-9`)."""
    if returncode < 0:
        try:
            return signal.Signals(-returncode).name
        except ValueError:
            pass
    return str(returncode)


def free_ports(count: int) -> list[int]:
    """`count` distinct free loopback ports (held together while chosen, so none repeats)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()
