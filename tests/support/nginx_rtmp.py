"""A private nginx with the RTMP module: the restream destination of the tests, a real RTMP(S)
server standing in for Twitch, YouTube or a custom one.

One `NginxRtmp` is one nginx master (and one worker) under its own directory, listening on
127.0.0.1 only, on ports picked free, with no file of the system's nginx read or written:
- RTMP on `rtmp_url` (application `live`), every publish recorded to its own FLV file;
- RTMPS on `rtmps_url`: the stream module terminates TLS (a self-signed certificate made at
  start) and proxies to the RTMP listener, as a TLS-offloading ingest does;
- HTTP on 127.0.0.1 only: `/auth`, which nginx-rtmp's `on_publish` asks, and which answers 2xx
  only for an accepted stream key (a `map`, so no Python server is involved); `/stat`, the RTMP
  module's statistics page that `publishing()` reads.

`make system` installs nginx and both modules; a missing one raises `NginxRtmpError`.
"""

import contextlib
import ipaddress
import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

NGINX = Path("/usr/sbin/nginx")
MODULES = Path("/usr/lib/nginx/modules")
RTMP_MODULE = MODULES / "ngx_rtmp_module.so"
STREAM_MODULE = MODULES / "ngx_stream_module.so"
HOST = "127.0.0.1"
APPLICATION = "live"
# What a key may be: it goes verbatim into the config and is compared with the raw query
# argument nginx-rtmp sends, so only characters that need neither quoting nor percent-encoding.
KEY_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,200}")
# Bounds nginx's start and stop, and every request to the stat page.
TIMEOUT = 10.0
STAT_TIMEOUT = 2.0
POLL = 0.05
# Tries with fresh ports when another process took one between picking and nginx binding it.
START_ATTEMPTS = 3


class NginxRtmpError(RuntimeError):
    """nginx is not installed, or did not start."""


@dataclass(frozen=True)
class PublishStats:
    """One published stream as the stat page shows it. `bw_in` is in bit/s and nginx-rtmp
    computes it over 10-second windows (0 before the first window ends); the video fields are
    None until the stream's metadata has arrived."""

    name: str
    bytes_in: int
    bw_in: int
    video_codec: str | None
    width: int | None
    height: int | None


class NginxRtmp:
    """`with NginxRtmp({"key"}, tmp_path) as server:` runs nginx for the block.

    `accepted_keys` are the stream names a publisher may use; any other is refused by the
    `on_publish` check and nginx-rtmp drops the connection. `root` holds the config, logs,
    certificate and recordings (a temporary directory, removed on stop, when not given).
    """

    def __init__(self, accepted_keys: Iterable[str], root: Path | None = None) -> None:
        self.accepted_keys = frozenset(accepted_keys)
        invalid = sorted(key for key in self.accepted_keys if not KEY_PATTERN.fullmatch(key))
        if invalid:
            raise ValueError(f"stream keys must match {KEY_PATTERN.pattern}: {invalid}")
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if root is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="nginx-rtmp-")
            root = Path(self._tmp.name)
        self.root = root
        self.record_dir = self.root / "records"
        self.error_log = self.root / "logs" / "error.log"
        self.rtmp_port = self.tls_port = self.http_port = 0
        self._process: subprocess.Popen[bytes] | None = None

    # Lifecycle

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        missing = [str(path) for path in (NGINX, RTMP_MODULE, STREAM_MODULE) if not path.exists()]
        if missing:
            self.stop()
            raise NginxRtmpError(f"{', '.join(missing)} missing: `make system` installs nginx and its modules")
        for directory in ("records", "logs", "tls", "temp"):
            (self.root / directory).mkdir(parents=True, exist_ok=True)
        _write_self_signed(self.root / "tls" / "cert.pem", self.root / "tls" / "key.pem")
        output_path = self.root / "logs" / "nginx.out"
        for attempt in range(1, START_ATTEMPTS + 1):
            self.rtmp_port, self.tls_port, self.http_port = _free_ports(3)
            conf = self.root / "nginx.conf"
            conf.write_text(self._config())
            self.error_log.unlink(missing_ok=True)
            output = output_path.open("wb")
            # A session of its own: the master and its worker form one process group, which
            # stall()/resume()/stop() signal as a whole, and a Ctrl-C of the tests reaches neither.
            self._process = subprocess.Popen(
                [str(NGINX), "-p", str(self.root), "-c", str(conf), "-e", str(self.error_log)],
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=output,
                start_new_session=True,
            )
            output.close()
            try:
                self._wait_ready()
                return
            except NginxRtmpError as error:
                retry = attempt < START_ATTEMPTS and "Address already in use" in str(error)
                self.stop(keep_root=retry)
                if not retry:
                    raise

    def stop(self, keep_root: bool = False) -> None:
        """Fast shutdown (SIGTERM) of a running or stalled nginx, SIGKILL if it lingers; then the
        temporary root goes, unless `keep_root`."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            self._signal_group(process, signal.SIGCONT)
            process.terminate()
            try:
                process.wait(TIMEOUT)
            except subprocess.TimeoutExpired:
                # The group: a worker would outlive its killed master.
                self._signal_group(process, signal.SIGKILL)
                process.wait(TIMEOUT)
        elif process is not None:
            self._signal_group(process, signal.SIGKILL)  # the worker of a master that died
        if self._tmp is not None and not keep_root:
            self._tmp.cleanup()

    # Addresses

    @property
    def rtmp_url(self) -> str:
        return f"rtmp://{HOST}:{self.rtmp_port}/{APPLICATION}"

    @property
    def rtmps_url(self) -> str:
        return f"rtmps://{HOST}:{self.tls_port}/{APPLICATION}"

    @property
    def stat_url(self) -> str:
        return f"http://{HOST}:{self.http_port}/stat"

    # What arrived

    def recordings(self, key: str) -> list[Path]:
        """The FLV files of the publishes of `key`, oldest first: one per publish, named
        `<key>-<unix seconds>.flv` (two publishes of a key within one second share a file)."""
        pattern = re.compile(rf"{re.escape(key)}-(\d+)\.flv")
        found = [(int(match[1]), path) for path in self.record_dir.iterdir() if (match := pattern.fullmatch(path.name))]
        return [path for _, path in sorted(found)]

    def publishing(self) -> dict[str, PublishStats]:
        """The streams a publisher is sending now, by name, from the stat page. Served by the
        nginx worker itself: it times out while the server is stalled."""
        # Plain http on loopback, and XML our own nginx wrote.
        with urllib.request.urlopen(self.stat_url, timeout=STAT_TIMEOUT) as response:  # noqa: S310
            document = ET.fromstring(response.read())  # noqa: S314
        streams: dict[str, PublishStats] = {}
        for stream in document.iterfind("./server/application/live/stream"):
            if stream.find("publishing") is None:
                continue  # players only, or a publisher that has just gone
            name = stream.findtext("name", "")
            video = stream.find("meta/video")
            streams[name] = PublishStats(
                name=name,
                bytes_in=int(stream.findtext("bytes_in", "0")),
                bw_in=int(stream.findtext("bw_in", "0")),
                video_codec=None if video is None else video.findtext("codec"),
                width=_int_or_none(None if video is None else video.findtext("width")),
                height=_int_or_none(None if video is None else video.findtext("height")),
            )
        return streams

    def wait_publishing(self, key: str, timeout: float = TIMEOUT) -> PublishStats:
        """The stats of `key` once it is published and its video metadata has arrived (a stream
        without video never counts)."""
        deadline = time.monotonic() + timeout
        while True:
            stats = self.publishing().get(key)
            if stats is not None and stats.video_codec is not None:
                return stats
            if time.monotonic() > deadline:
                raise TimeoutError(f"{key!r} not published within {timeout} s (now: {stats})")
            time.sleep(POLL)

    def wait_not_publishing(self, key: str, timeout: float = TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while key in self.publishing():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{key!r} still published after {timeout} s")
            time.sleep(POLL)

    # Faults

    def stall(self) -> None:
        """Hang the server as a stuck one does: SIGSTOP to the master and its worker. Its sockets
        stay open and the kernel keeps accepting connections and buffering what arrives, but
        nothing is read: a publisher's writes block once the socket buffers are full. On loopback
        they take 3 to 10 MB (the more, the faster the stream was going): some ten seconds of a
        paced 2 Mbit/s stream. The stat page does not answer either."""
        self._signal_group(self._running(), signal.SIGSTOP)

    def resume(self) -> None:
        """Undo stall(): SIGCONT; the server reads what the kernel buffered and carries on."""
        self._signal_group(self._running(), signal.SIGCONT)

    # Internals

    def _config(self) -> str:
        root, temp = self.root, self.root / "temp"
        allowed = "".join(f'        "key={key}" 1;\n' for key in sorted(self.accepted_keys))
        # Workers of a root master switch to `nobody`, which cannot write the recordings.
        user = "user root;\n" if os.geteuid() == 0 else ""
        return f"""\
{user}daemon off;
worker_processes 1;
pid {root}/nginx.pid;
error_log {self.error_log} info;
load_module {RTMP_MODULE};
load_module {STREAM_MODULE};
events {{ worker_connections 256; }}

rtmp {{
    # Its default is the system nginx's log (/var/log/nginx/access.log), as the http one's.
    access_log {root}/logs/rtmp-access.log;
    server {{
        listen {HOST}:{self.rtmp_port};
        application {APPLICATION} {{
            live on;
            # GET puts the stream name in the query string, where the map below reads it.
            notify_method get;
            on_publish http://{HOST}:{self.http_port}/auth;
            record all;
            record_path {self.record_dir};
            record_unique on;
        }}
    }}
}}

stream {{
    server {{
        listen {HOST}:{self.tls_port} ssl;
        ssl_certificate {root}/tls/cert.pem;
        ssl_certificate_key {root}/tls/key.pem;
        proxy_pass {HOST}:{self.rtmp_port};
    }}
}}

http {{
    access_log {root}/logs/access.log;
    # Debian's build puts these under /var/lib/nginx, which is the system nginx's.
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    # The "key=" prefix keeps a key from reading as one of map's keywords (default, include...).
    map_hash_bucket_size 256;
    map "key=$arg_name" $publish_allowed {{
        default 0;
{allowed}    }}
    server {{
        listen {HOST}:{self.http_port};
        location = /auth {{
            if ($publish_allowed = 0) {{
                return 403;
            }}
            return 204;
        }}
        location = /stat {{
            rtmp_stat all;
        }}
    }}
}}
"""

    def _wait_ready(self) -> None:
        """Until the stat page answers: the worker runs, and the master bound every listener."""
        process = self._running()
        deadline = time.monotonic() + TIMEOUT
        while True:
            if process.poll() is not None:
                raise NginxRtmpError(f"nginx exited with {process.returncode}:\n{self._log_tail()}")
            try:
                self.publishing()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise NginxRtmpError(f"nginx did not answer within {TIMEOUT} s:\n{self._log_tail()}") from None
                time.sleep(POLL)

    def _running(self) -> subprocess.Popen[bytes]:
        if self._process is None:
            raise NginxRtmpError("nginx is not running: use NginxRtmp as a context manager, or start()")
        return self._process

    @staticmethod
    def _signal_group(process: subprocess.Popen[bytes], signum: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):  # every process of the group has exited
            os.killpg(process.pid, signum)

    def _log_tail(self, lines: int = 20) -> str:
        text = ""
        for log in (self.root / "logs" / "nginx.out", self.error_log):
            if log.exists():
                text += log.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])


@dataclass(frozen=True)
class Recording:
    """What ffprobe finds in a recording: enough to tell a copied stream from a re-encoded one."""

    video_codec: str | None
    width: int | None
    height: int | None
    video_packets: int
    audio_codec: str | None
    audio_packets: int


def probe_recording(path: Path) -> Recording:
    """ffprobe's codecs, size and packet counts (read, not decoded) of a recording."""
    entries = "stream=codec_type,codec_name,width,height,nb_read_packets"
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-count_packets", "-of", "json", "-show_entries", entries, str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=TIMEOUT,
    )
    streams: dict[str, dict[str, Any]] = {}
    for stream in json.loads(result.stdout)["streams"]:
        streams.setdefault(stream["codec_type"], stream)
    video, audio = streams.get("video", {}), streams.get("audio", {})
    return Recording(
        video_codec=video.get("codec_name"),
        width=video.get("width"),
        height=video.get("height"),
        video_packets=int(video.get("nb_read_packets", 0)),
        audio_codec=audio.get("codec_name"),
        audio_packets=int(audio.get("nb_read_packets", 0)),
    )


def refused_url() -> str:
    """An RTMP URL at a loopback port where nothing listens: connecting is refused at once."""
    (port,) = _free_ports(1)
    return f"rtmp://{HOST}:{port}/{APPLICATION}"


def _free_ports(count: int) -> list[int]:
    """Ports free now (all bound at once, so distinct); closed again for nginx to bind."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind((HOST, 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _write_self_signed(cert_path: Path, key_path: Path) -> None:
    """A P-256 certificate for 127.0.0.1, valid for a day either side of now."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(HOST))]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _int_or_none(text: str | None) -> int | None:
    return None if text is None or not text.strip() else int(text)
