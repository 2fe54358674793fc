"""``acam live`` trusts no page: a WebSocket only from its own origin (or one given with
``--allow-origin``), answers only to its own Host names (DNS rebinding), and every settings
message checked by the shared option parsers; one error reply for a bad one, the connection and
the other clients streaming on, nothing non-finite sent, no traceback in the server's log.

One ``acam live --simulated`` (the 16-microphone array, so it is cheap) serves the whole module;
real uvicorn server, real ``websockets`` client, raw HTTP for the headers a client library
would not send."""

import http.client
import json
import signal
import threading
import time
from urllib.parse import urlsplit

import pytest

from acoustic_camera.errors import AcamError
from acoustic_camera.view.live.server import MAX_FRAME, LiveServer, dumps, origin

from conftest import run_acam

from benchmarks.live_view import start_live  # noqa: E402

pytestmark = pytest.mark.realtime  # a live server playing the simulation in real time

ALLOWED = "http://dash.example:9000"


def strict(text: str):
    """JSON as a browser's JSON.parse reads it: NaN, Infinity are errors."""
    def bad(c):
        raise ValueError(f"non-finite {c}")
    return json.loads(text, parse_constant=bad)


@pytest.fixture(scope="module")
def live():
    proc, url = start_live("--simulated", "--geometry", "uma16", "--duration", 120, "--preroll", 1, "--no-noise",
                           "--sources", "noise:static@-0.6,0.15,2.5", "--band", "1000:4000",
                           "--allow-origin", ALLOWED + "/")
    port = urlsplit(url).port
    info = {"url": url, "port": port, "ws": f"ws://127.0.0.1:{port}/ws", "proc": proc}
    yield info
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    info["stderr"] = err
    # the server's log: no traceback, no error, from anything the tests sent
    assert "Traceback" not in err and "ERROR" not in err and "Exception" not in err, err
    assert proc.returncode == 128 + signal.SIGINT, err


def request(port, path="/", host=None, headers=()):
    """(status, body) of a GET with exactly these headers (``host`` None: no Host header)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.putrequest("GET", path, skip_host=True, skip_accept_encoding=True)
        if host is not None:
            conn.putheader("Host", host)
        for k, v in headers:
            conn.putheader(k, v)
        conn.endheaders()
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def handshake(port, host, origin_=None):
    """The status of a WebSocket handshake on /ws (101: accepted)."""
    hdrs = [("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ("Sec-WebSocket-Version", "13")] + ([("Origin", origin_)] if origin_ is not None else [])
    return request(port, "/ws", host, hdrs)[0]


def connect(live, origin_=None):
    from websockets.sync.client import connect as ws_connect

    return ws_connect(live["ws"], origin=origin_, max_size=None, open_timeout=10)


def test_a_foreign_host_is_refused_on_every_route(live):
    port = live["port"]
    for path in ("/", "/status"):
        for host in (f"evil.example:{port}", f"127.0.0.1.evil.example:{port}", "evil.example", f"127.0.0.1:{port + 1}",
                     "127.0.0.1", f"localhost:{port}@evil.example"):
            status, body = request(port, path, host)
            assert status == 421, (path, host, status)
            assert b"not this server" in body
        assert request(port, path, None)[0] in (400, 421)  # no Host at all (HTTP/1.1's parser refuses it first)
        assert request(port, path, "")[0] in (400, 421)
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"LOCALHOST:{port}", f"[::1]:{port}",
                     "dash.example:9000"):  # the allowed origin's host: a reverse proxy keeping Host
            assert request(port, path, host)[0] == 200, (path, host)
    # a page of another site whose name was rebound to 127.0.0.1: same origin to the browser, refused
    for host in (f"evil.example:{port}", f"attacker.test:{port}"):
        assert handshake(port, host, f"http://{host}") == 403
        assert handshake(port, host) == 403


def test_a_foreign_origin_is_refused(live):
    from websockets.exceptions import InvalidStatus

    port = live["port"]
    own = f"127.0.0.1:{port}"
    for bad in ("http://evil.example", f"http://evil.example:{port}", "null", f"https://{own}", f"http://127.0.0.1:{port + 1}",
                f"http://{own}.evil.example", "http://dash.example:9001", "https://dash.example:9000", "file://"):
        assert handshake(port, own, bad) == 403, bad
        with pytest.raises(InvalidStatus) as e:
            connect(live, bad)
        assert e.value.response.status_code == 403
    # its own origins, the one allowed, and non-browser clients (no Origin)
    for good in (f"http://{own}", f"http://localhost:{port}", f"HTTP://LOCALHOST:{port}", ALLOWED, None):
        assert handshake(port, own, good) == 101, good
    status = strict(request(port, "/status", own)[1])
    assert status["clients"] >= 0


def test_a_same_origin_client_streams_and_changes_settings(live):
    with connect(live, f"http://127.0.0.1:{live['port']}") as ws:
        hello = strict(ws.recv(timeout=10))
        assert hello["type"] == "hello" and hello["settings"]["band"] == [1000.0, 4000.0]
        pictures = 0
        while pictures < 2:
            m = ws.recv(timeout=10)
            if isinstance(m, bytes):
                assert m[:2] == b"\xff\xd8"
                pictures += 1
            else:
                assert strict(m)["type"] == "frame"
        ws.send(json.dumps({"band": [1500, 3500], "range": 20, "method": "das", "csm_frames": 6}))
        ws.send(json.dumps({"band": "1000:4000", "range": "12", "method": "kernel"}))  # what a user types, too
        replies = []
        while len(replies) < 2:
            m = ws.recv(timeout=10)
            if isinstance(m, str) and strict(m)["type"] != "frame":
                replies.append(strict(m))
        assert replies[0] == {"type": "settings", "settings": {"band": [1500.0, 3500.0], "dynamic_range_db": 20.0,
                                                               "method": "das", "csm_frames": 6, "weighting": "power"}}
        assert replies[1]["settings"]["band"] == [1000.0, 4000.0] and replies[1]["settings"]["method"] == "kernel"


BAD = [
    ('{"band":[0,1e400]}', "1e400 is not a finite number"),
    ('{"band":[0,Infinity]}', "Infinity is not a finite number"),
    ('{"band":"x"}', "band: expected LO:HI"),
    ('{"band":[4000,1000]}', "band: expected LO:HI"),
    ('{"band":[0,1,2]}', "band: expected LO:HI"),
    ('{"band":[[0],[1]]}', "band: expected LO:HI"),
    ("[1,2]", "found an array"),
    ('"text"', "found a string"),
    ("not json", "expected a JSON object of settings"),
    ('{"range":NaN}', "NaN is not a finite number"),
    ('{"range":-Infinity}', "-Infinity is not a finite number"),
    ('{"range":true}', "range: expected a finite number"),
    ('{"range":1e308}', "range: expected a finite number"),
    ('{"range":1000}', "range: expected a finite number"),
    ('{"range":100}', "range: expected a finite number >= 1 dB and <= 60 dB"),  # the live view's slider
    ("[" * 100000 + "]" * 100000, "at most 65536 characters"),
    ("[" * 30000 + "]" * 30000, "nested too deeply"),
    ('{"band": "' + "x" * (1 << 20) + '"}', "at most 65536 characters"),
    (b"\x00\x01binary", "found a binary one"),
    ('{"csm_frames": %d}' % 10**30, "csm_frames: expected a whole number from 1 to 48"),
    ('{"csm_frames": 1.5}', "csm_frames: expected a whole number"),
    ('{"csm_frames": 1%s}' % ("0" * 5000), "expected a JSON object of settings"),
    ('{"method": "music"}', "method: expected one of kernel"),
    ('{"method": 5}', "method: expected one of kernel"),
    ('{"weighting": "loud"}', "weighting: expected one of power"),
    ('{"bogus": 1, "band": [1000, 2000]}', "unknown settings: 'bogus'"),
    ('{"stop_view": "yes"}', "stop_view: expected"),
    ('{"stop_view": 1}', "stop_view: expected"),
]


def test_malformed_messages_get_one_error_each_and_stop_nobody(live):
    port = live["port"]
    seen = {"pictures": 0, "bad_json": [], "closed": None}
    stop = threading.Event()

    def bystander():  # a second page, connected the whole time
        try:
            with connect(live, f"http://localhost:{port}") as ws:
                while not stop.is_set():
                    try:
                        m = ws.recv(timeout=0.5)
                    except TimeoutError:
                        continue
                    if isinstance(m, bytes):
                        seen["pictures"] += 1
                    else:
                        try:
                            strict(m)
                        except ValueError as exc:
                            seen["bad_json"].append(str(exc))
        except Exception as exc:  # noqa: BLE001
            seen["closed"] = repr(exc)

    t = threading.Thread(target=bystander, daemon=True)
    t.start()
    with connect(live) as ws:
        hello = strict(ws.recv(timeout=10))
        before = hello["settings"]
        for bad, why in BAD:
            ws.send(bad)  # str: a text message; bytes: a binary one
            ws.send("{}")  # a barrier: its reply comes after the bad one's
            errors, pictures = [], 0
            while True:
                m = ws.recv(timeout=10)
                if isinstance(m, bytes):
                    pictures += 1
                    continue
                m = strict(m)
                if m["type"] == "error":
                    errors.append(m["message"])
                elif m["type"] == "settings":
                    break
            shown = bad[:40] if isinstance(bad, str) else bad
            assert len(errors) == 1 and why in errors[0], (shown, errors)
            assert len(errors[0]) <= 300 and "\n" not in errors[0]
            assert m["settings"] == before, shown  # unchanged
            status, body = request(port, "/status", f"127.0.0.1:{port}")
            assert status == 200, (shown, body)
            st = strict(body)
            assert st["settings"] == before
        # this client still streams too
        n = 0
        end = time.monotonic() + 10
        while n < 3 and time.monotonic() < end:
            n += isinstance(ws.recv(timeout=10), bytes)
        assert n == 3
        got = seen["pictures"]
    time.sleep(1.0)  # (not with a client holding unread pictures: its close would wait for them)
    assert seen["pictures"] > got, seen  # the bystander kept receiving pictures all along
    # a message past what the server takes in at all closes that connection only (1009)
    with connect(live) as big:
        big.send("x" * (MAX_FRAME + 1))
        with pytest.raises(Exception) as e:
            while True:
                big.recv(timeout=10)
        assert "1009" in str(e.value) or "too big" in str(e.value).lower(), e.value
    got = seen["pictures"]
    time.sleep(1.0)
    stop.set()
    t.join(timeout=5)
    assert seen["pictures"] > got and seen["closed"] is None and not seen["bad_json"], seen


def test_the_server_sends_no_non_finite_numbers():
    assert dumps({"top_db": float("-inf"), "floor_db": float("nan"), "peak": [1.0, float("inf")], "n": 3}) == \
        '{"top_db": null, "floor_db": null, "peak": [1.0, null], "n": 3}'


class _Imager:  # the host checks need nothing of the imager
    pass


@pytest.mark.parametrize("bound", ["127.0.0.1", "0.0.0.0"])
def test_host_names_answered(bound):
    import socket

    srv = LiveServer(_Imager(), bound, 0)
    try:
        p = srv.port
        for host in (f"127.0.0.1:{p}", f"localhost:{p}", f"[::1]:{p}", f"{bound}:{p}"):
            assert srv.host_ok(host), host
        for host in (f"evil.example:{p}", f"127.0.0.1:{p + 1}", "localhost", f"::1:{p}", f"127.0.0.1.nip.io:{p}"):
            assert not srv.host_ok(host), host
        # bound to every interface: the machine's name and its addresses (an IP address cannot be rebound)
        assert srv.host_ok(f"{socket.gethostname()}:{p}") == (bound == "0.0.0.0")
        assert srv.host_ok(f"192.168.1.5:{p}") == (bound == "0.0.0.0")
        assert srv.host_ok(f"[fe80::1]:{p}") == (bound == "0.0.0.0")
        assert not srv.host_ok(f"192.168.1.5:{p + 1}")
    finally:
        srv.stop()


def test_allow_origin_is_checked_in_one_line(tmp_path):
    assert origin("HTTP://Dash.Example:9000/") == "http://dash.example:9000"
    assert origin("https://x.org:443") == "https://x.org"
    for bad in ("*", "null", "dash.example:9000", "ftp://x", "http://x/path", "http://x:99999", "http://user@x"):
        with pytest.raises(AcamError, match="--allow-origin: expected an origin"):
            origin(bad)
    r = run_acam("live", "--simulated", "--allow-origin", "http://x/path", "--record", tmp_path / "x.h5", check=False)
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0, r.stderr
    assert "--allow-origin: expected an origin" in r.stderr and not (tmp_path / "x.h5").exists()
