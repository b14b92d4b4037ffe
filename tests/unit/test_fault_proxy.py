"""The storage fault proxy the e2e fault tests rely on: it forwards, and each fault is what it
says (a test whose fault silently did not happen would prove nothing)."""

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from tests.fixtures.faults import StorageFaultProxy

S3_REQUEST = b"PUT /bucket/key HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
DYNAMODB_REQUEST = b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: DynamoDB_20120810.GetItem\r\nContent-Length: 0\r\n\r\n"
ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"


@pytest.fixture
def proxy() -> Iterator[StorageFaultProxy]:
    """A proxy in front of a loopback server that answers every request 200."""
    upstream = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = upstream.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                conn.sendall(ANSWER)

    threading.Thread(target=serve, daemon=True).start()
    fault_proxy = StorageFaultProxy(f"http://127.0.0.1:{upstream.getsockname()[1]}")
    yield fault_proxy
    fault_proxy.close()
    upstream.close()


def ask(proxy: StorageFaultProxy, request: bytes, timeout: float = 1.0) -> bytes:
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=timeout) as conn:
        conn.sendall(request)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
        return answer


def test_forward_passes_both_ways(proxy: StorageFaultProxy) -> None:
    assert ask(proxy, S3_REQUEST).endswith(b"ok")
    assert ask(proxy, DYNAMODB_REQUEST).endswith(b"ok")
    assert proxy.storage_connections == 1


def test_a_stall_holds_storage_only(proxy: StorageFaultProxy) -> None:
    proxy.set("stall")
    with pytest.raises(TimeoutError):
        ask(proxy, S3_REQUEST, timeout=0.5)
    assert ask(proxy, DYNAMODB_REQUEST).endswith(b"ok")
    proxy.set("stall-all")
    with pytest.raises(TimeoutError):
        ask(proxy, DYNAMODB_REQUEST, timeout=0.5)


@pytest.mark.parametrize(("mode", "status"), [("500", b"500"), ("503", b"503")])
def test_errors_answer_storage_requests(proxy: StorageFaultProxy, mode: str, status: bytes) -> None:
    proxy.set(mode)
    assert ask(proxy, S3_REQUEST).startswith(b"HTTP/1.1 " + status)
    assert ask(proxy, DYNAMODB_REQUEST).endswith(b"ok")


def test_reset_closes_storage_connections(proxy: StorageFaultProxy) -> None:
    proxy.set("reset")
    assert ask(proxy, S3_REQUEST) == b""


def test_refuse_stops_listening_and_forward_listens_again_on_the_same_port(proxy: StorageFaultProxy) -> None:
    port = proxy.port
    proxy.set("refuse")
    with pytest.raises(ConnectionRefusedError):
        ask(proxy, DYNAMODB_REQUEST)
    proxy.set("forward")
    time.sleep(0.05)
    assert proxy.port == port
    assert ask(proxy, S3_REQUEST).endswith(b"ok")
