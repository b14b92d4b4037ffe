"""The NLB's local stand-in: the HAProxy configuration, and HAProxy itself in front of stand-in
workers (a TCP server that says which one it is, and an HTTP `/health` each)."""

import contextlib
import socket
import socketserver
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from localstack.balancer import BACKEND, HAPROXY, Backend, Balancer, haproxy_config
from localstack.processes import free_ports

BACKENDS = [Backend("worker-1", 1936, 8080), Backend("worker-2", 1937, 8081)]


def lines(config: str) -> list[str]:
    return [line.strip() for line in config.splitlines()]


def test_the_config_spreads_tcp_round_robin_over_every_worker_checked_on_its_health() -> None:
    config = lines(haproxy_config(1935, BACKENDS, Path("/run/haproxy.sock")))
    assert "mode tcp" in config
    assert "bind 127.0.0.1:1935" in config
    assert "balance roundrobin" in config
    assert "option httpchk GET /health" in config
    assert "default-server inter 1s fall 2 rise 1" in config
    assert "server worker-1 127.0.0.1:1936 check port 8080" in config
    assert "server worker-2 127.0.0.1:1937 check port 8081" in config
    # Publishers send for hours: only the connect is short.
    assert {"timeout client 1h", "timeout server 1h", "timeout connect 5s"} <= set(config)
    assert "stats socket /run/haproxy.sock mode 600 level admin" in config
    assert not any(line.startswith("daemon") for line in config)  # a child of the platform


def test_the_config_needs_distinct_workers() -> None:
    with pytest.raises(ValueError, match="at least one"):
        haproxy_config(1935, [], Path("/run/haproxy.sock"))
    with pytest.raises(ValueError, match="distinct"):
        haproxy_config(1935, [BACKENDS[0], BACKENDS[0]], Path("/run/haproxy.sock"))


@pytest.mark.tools(HAPROXY)
def test_haproxy_accepts_the_config(tmp_path: Path) -> None:
    path = tmp_path / "haproxy.cfg"
    path.write_text(haproxy_config(1935, BACKENDS, tmp_path / "haproxy.sock"))
    result = subprocess.run([HAPROXY, "-c", "-f", str(path)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[WARNING]" not in result.stdout + result.stderr


class _Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/health" else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass

    def handle(self) -> None:
        # HAProxy resets a check's connection once it has read the status line.
        with contextlib.suppress(ConnectionError):
            super().handle()


class _Name(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.request.sendall(self.server.name)  # type: ignore[attr-defined]


class StandIn:
    """A worker's two listeners: RTMP (answers its name) and /health."""

    def __init__(self, name: str, rtmp_port: int, health_port: int) -> None:
        self.rtmp = socketserver.ThreadingTCPServer(("127.0.0.1", rtmp_port), _Name)
        self.rtmp.name = name.encode()  # type: ignore[attr-defined]
        self.health = ThreadingHTTPServer(("127.0.0.1", health_port), _Health)
        for server in (self.rtmp, self.health):
            threading.Thread(target=server.serve_forever, daemon=True).start()

    def stop_health(self) -> None:
        self.health.shutdown()
        self.health.server_close()

    def close(self) -> None:
        self.rtmp.shutdown()
        self.rtmp.server_close()


@pytest.fixture
def stand_ins(tmp_path: Path) -> Iterator[tuple[Balancer, list[StandIn]]]:
    listen, *ports = free_ports(5)
    backends = [Backend(f"worker-{n}", ports[2 * n - 2], ports[2 * n - 1]) for n in (1, 2)]
    workers = [StandIn(b.name, b.rtmp_port, b.health_port) for b in backends]
    balancer = Balancer(listen, backends, tmp_path, tmp_path / "haproxy.log")
    try:
        yield balancer.start(), workers
    finally:
        balancer.stop()
        for worker in workers:
            worker.close()


def landed(balancer: Balancer) -> str:
    with socket.create_connection(("127.0.0.1", balancer.listen_port), timeout=5) as connection:
        return connection.recv(64).decode()


def wait_for_state(balancer: Balancer, name: str, state: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while balancer.server_states()[name] != state:
        assert time.monotonic() < deadline, f"{name} never {state}: {balancer.server_states()}"
        time.sleep(0.05)


@pytest.mark.tools(HAPROXY)
@pytest.mark.timeout(60)
def test_connections_go_round_robin_and_a_worker_failing_its_checks_leaves_the_rotation(
    stand_ins: tuple[Balancer, list[StandIn]],
) -> None:
    balancer, workers = stand_ins
    assert balancer.running
    assert set(balancer.server_states()) == {"worker-1", "worker-2"}
    first, second, third, fourth = (landed(balancer) for _ in range(4))
    assert {first, second} == {"worker-1", "worker-2"}
    assert (third, fourth) == (first, second)

    workers[1].stop_health()
    wait_for_state(balancer, "worker-2", "DOWN")
    assert {landed(balancer) for _ in range(4)} == {"worker-1"}
    assert f"Server {BACKEND}/worker-2 is DOWN" in balancer.log_path.read_text()

    balancer.stop()
    assert not balancer.running
    assert not balancer.admin_socket.exists()
    with pytest.raises(ConnectionRefusedError):
        landed(balancer)
