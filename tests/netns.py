"""Several "hosts" on one machine for the multi-host test: one network
namespace each (``ip netns``), with its own address on a bridge of the
test's own, so a process on one host reaches another only over that
network, as across machines. Made by the test as root and removed after,
whatever happens; where namespaces can't be made (not root), the hosts are
loopback addresses instead (127.0.0.2, 127.0.0.3, ...) and ``Network.mode``
says so (``TEST_HOSTS=loopback`` asks for that as root too, to try it).

A process runs on a host through ``Host.command(argv)`` (``ip netns exec``
execs the program itself, so its pid is the process's)."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import subprocess
from dataclasses import dataclass, field

IP = "/usr/sbin/ip"
PREFIX = "thmh"  # every namespace and link this module makes starts with it


@dataclass
class Host:
    name: str
    address: str
    netns: str | None = None

    def command(self, argv: list[str]) -> list[str]:
        return [IP, "netns", "exec", self.netns, *argv] if self.netns else list(argv)

    def pids(self) -> set[int]:
        """The processes running in this host's namespace."""
        if not self.netns:
            return set()
        out = subprocess.run([IP, "netns", "pids", self.netns], capture_output=True, text=True, check=True).stdout
        return {int(p) for p in out.split()}


LOOPBACK = Host("local", "127.0.0.1")


def _ip(*args: str) -> None:
    result = subprocess.run([IP, *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {result.stderr.strip()}")


def loopback_reason() -> str | None:
    """Why the hosts are loopback addresses, or None: they are namespaces.
    Only not being root (or asking for it) is a reason: as root, a missing
    ``ip`` or a namespace that can't be made fails the test."""
    if os.environ.get("TEST_HOSTS") == "loopback":
        return "TEST_HOSTS=loopback"
    if os.geteuid() != 0:
        return "not root: network namespaces need root"
    return None


@dataclass
class Network:
    """The hosts, made one by one with ``add``; ``close`` removes them all."""

    mode: str  # "netns" or "loopback"
    tag: str = field(default_factory=lambda: str(os.getpid() % 100000))
    hosts: list[Host] = field(default_factory=list)
    bridge: str | None = None
    subnet: ipaddress.IPv4Network | None = None

    @classmethod
    def make(cls) -> "Network":
        """Namespaces as root (any failure then is the test's failure), else loopback addresses."""
        if loopback_reason() is not None:
            return cls(mode="loopback")
        if not os.path.exists(IP):
            raise RuntimeError(f"{IP} is missing: apt-get install iproute2 (python3 dev.py test does it as root)")
        net = cls(mode="netns")
        cleanup_stale()
        pid = os.getpid()
        # A subnet of its own per test process, so two runs on one machine never meet.
        net.subnet = ipaddress.IPv4Network(f"10.{200 + pid % 50}.{(pid // 50) % 256}.0/24")
        net.bridge = f"{PREFIX}b{net.tag}"
        try:
            _ip("link", "add", "name", net.bridge, "type", "bridge")
            _ip("addr", "add", f"{net.subnet[1]}/{net.subnet.prefixlen}", "dev", net.bridge)
            _ip("link", "set", net.bridge, "up")
        except Exception:
            net.close()
            raise
        return net

    @property
    def gateway(self) -> str:
        """This process's address on the hosts' network (the root namespace)."""
        return str(self.subnet[1]) if self.subnet else "127.0.0.1"

    def add(self, name: str) -> Host:
        n = len(self.hosts) + 1
        if self.mode == "loopback":
            host = Host(name, f"127.0.0.{n + 1}")
            self.hosts.append(host)
            return host
        netns, outside, inside = f"{PREFIX}-{self.tag}-{name}", f"{PREFIX}v{self.tag}{n}", f"{PREFIX}p{self.tag}{n}"
        address = str(self.subnet[10 + n])
        host = Host(name, address, netns)
        self.hosts.append(host)  # before it exists: close() removes what was made of it
        _ip("netns", "add", netns)
        _ip("link", "add", outside, "type", "veth", "peer", "name", inside)
        _ip("link", "set", inside, "netns", netns)
        _ip("link", "set", outside, "master", self.bridge)
        _ip("link", "set", outside, "up")
        _ip("-n", netns, "link", "set", "lo", "up")
        _ip("-n", netns, "link", "set", inside, "name", "eth0")
        _ip("-n", netns, "addr", "add", f"{address}/{self.subnet.prefixlen}", "dev", "eth0")
        _ip("-n", netns, "link", "set", "eth0", "up")
        return host

    def close(self) -> None:
        """Remove every namespace (its end of the veth pair goes with it) and
        the bridge. Kill the hosts' processes first: a namespace outlives its
        name while a process still runs in it."""
        for host in self.hosts:
            if host.netns:
                with contextlib.suppress(Exception):
                    for pid in host.pids():
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(pid, 9)
                subprocess.run([IP, "netns", "del", host.netns], capture_output=True)
        if self.bridge:
            subprocess.run([IP, "link", "del", self.bridge], capture_output=True)

    def leftovers(self) -> list[str]:
        """This network's namespaces and links still there (none after close)."""
        names = [h.netns for h in self.hosts if h.netns] + ([self.bridge] if self.bridge else [])
        present = _listing()
        return [n for n in names if n in present]


def _listing() -> set[str]:
    namespaces = subprocess.run([IP, "netns", "list"], capture_output=True, text=True).stdout
    links = subprocess.run([IP, "-o", "link", "show"], capture_output=True, text=True).stdout
    found = {line.split()[0] for line in namespaces.splitlines() if line.strip()}
    found |= {line.split(":")[1].strip().split("@")[0] for line in links.splitlines() if ":" in line}
    return found


def cleanup_stale() -> None:
    """Remove what an earlier test process that died (SIGKILL: no finalizer)
    left behind; only names of this module whose process is gone."""
    for name in _listing():
        if not name.startswith(PREFIX):
            continue
        rest = name[len(PREFIX) + 1:].lstrip("-")
        tag = "".join(ch for ch in rest.split("-")[0] if ch.isdigit())
        if not tag or tag == str(os.getpid() % 100000) or _tag_alive(tag):
            continue
        if name.startswith(f"{PREFIX}-"):
            subprocess.run([IP, "netns", "del", name], capture_output=True)
        elif name.startswith(f"{PREFIX}b"):
            subprocess.run([IP, "link", "del", name], capture_output=True)


def _tag_alive(tag: str) -> bool:
    """Whether a live process has this tag (its pid modulo 100000)."""
    return any(int(p) % 100000 == int(tag) for p in os.listdir("/proc") if p.isdigit())
