"""tests/netns.py itself: hosts reach each other over the test's bridge and
nothing of them is left after close, also when a test fails midway, and a
dead run's namespaces are removed by the next."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from tests.netns import IP, PREFIX, Network, _listing, cleanup_stale, loopback_reason

pytestmark = pytest.mark.cluster


@pytest.fixture
def net():
    if loopback_reason():
        pytest.skip(f"network namespaces not made here: {loopback_reason()}")
    network = Network.make()
    try:
        yield network
    finally:
        network.close()


def test_hosts_talk_over_the_bridge_and_close_removes_everything(net):
    one, two = net.add("one"), net.add("two")
    assert one.address != two.address and net.mode == "netns"
    # A listener on host one, reached from host two and from the root namespace.
    server = subprocess.Popen(one.command([sys.executable, "-c",
                                           "import socket; s = socket.create_server(('%s', 18399)); "
                                           "[s.accept()[0].sendall(b'hi') for _ in range(2)]" % one.address]))
    try:
        probe = ("import socket, time\nfor _ in range(50):\n    try:\n"
                 f"        print(socket.create_connection(('{one.address}', 18399), 1).recv(2).decode()); break\n"
                 "    except OSError: time.sleep(0.1)")
        out = subprocess.run(two.command([sys.executable, "-c", probe]), capture_output=True, text=True, timeout=30)
        assert out.stdout.strip() == "hi", out.stderr
        assert socket.create_connection((one.address, 18399), 5).recv(2) == b"hi"
        # Host one's loopback is its own: nothing listens on 127.0.0.1:18399 there.
        local = subprocess.run(two.command([sys.executable, "-c",
                                            "import socket; socket.create_connection(('127.0.0.1', 18399), 1)"]),
                               capture_output=True, text=True, timeout=30)
        assert local.returncode != 0 and "Connection refused" in local.stderr
    finally:
        server.kill()
        server.wait()
    assert one.netns in _listing()
    net.close()
    assert net.leftovers() == []


def test_a_dead_runs_namespace_is_removed_by_the_next():
    if loopback_reason():
        pytest.skip(f"network namespaces not made here: {loopback_reason()}")
    dead = f"{PREFIX}-99999-stale"  # pid 99999 % 100000: assumed not running
    subprocess.run([IP, "netns", "add", dead], check=True)
    try:
        cleanup_stale()
        assert dead not in _listing()
    finally:
        subprocess.run([IP, "netns", "del", dead], capture_output=True)
