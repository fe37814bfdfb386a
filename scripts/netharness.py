#!/usr/bin/env python3
"""Real-network fault harness: K Colony agents and K Serf agents side by side in network
namespaces, with faults injected by nftables and signals (issue 17).

Network. One namespace per host (colnh-<pid>-h<i>, address 10.213.<x>.<i>/24 on its eth0)
and one namespace holding a Linux bridge (colnh-<pid>-br) with one veth port per host
(v<i>). The root namespace gets one more port (link colnh<pid>, address 10.213.<x>.254) so
the harness can reach every agent's API directly. Each host runs both systems on other
ports (every host is given every other's MAC as a permanent neighbour entry: the kernel's
ARP table is shared by all namespaces and overflows at K=50): `colony agent` (gossip 7946 udp+tcp, HTTP API 7950) and `serf agent` (gossip 7947
udp+tcp, RPC 7373), so both suffer exactly the same faults at the same moments.

Faults. Loss and partitions are nftables rules in the bridge namespace (bridge family,
forward hook), keyed on the host's port: `iifname "v3"` is traffic host 3 sends (its
output), `oifname "v3"` traffic it receives (its input). Dropping on the wire, not in the
host's own OUTPUT hook, matters: a local OUTPUT drop makes sendto() fail with EPERM, which
no real lossy network does. Only IPv4 is dropped (ARP is not), and the harness's own port
("obs") is never touched, so observation never suffers the faults.
  loss       every host drops P% per hook (--direction in, out or both: two hooks between
             two hosts, so both at 10% is 19% end to end), for --duration, then clean.
  gray       one host (--target) at high loss (--loss, default 60, both ways), the rest clean.
  oneway     one host loses P% of what it receives (default 80), nothing it sends.
  flipflop   one host's inbound loss (default 100%) switched on and off every --period s
             (default 20; the Rapid paper's flip-flop).
  partition  symmetric partition (--split 2 or 2,3: group sizes, in host order), for
             --duration, then heal; measures the time until every host sees all alive.
             Phase-randomised: up to --jitter s (default 10) of calm first and as much
             added to the length, drawn from --seed.
  stall      SIGSTOP/SIGCONT one host's agents (both systems), stops of 1-2 s
             (--stall-min/--stall-max) with 2-4 s between (--gap-min/--gap-max), repeated
             for --duration (a GC pause). A stalled member counts as live.
  kill       kill -9 one host's agents; time until the first / every survivor sees it dead.
  rolling    kill -9 each host in turn and restart it with the same data directory
             (Colony) / the same node name and snapshot (Serf); time until it is back alive
             in every view, and other members seen dead meanwhile.
  converge   start K agents (one seed, K-1 joining at once), time until all see all, then
             --duration of steady state.
Every scenario starts with the converge step and reports its time.

Observation. One thread per agent polls its view every --poll s (Colony: HTTP
/v1/members; Serf: msgpack RPC `members`) and records every change of every member's
status, with the time (seconds since the run began). A false death is a transition into
dead/left (Colony) or failed/left/leaving (Serf), seen by any observer, of a member whose
process was running at that moment and was not killed within the previous --grace
seconds; deaths across a partition, until --grace s after it heals, are expected and not
counted. A stalled member is live.

Usage (root; nftables, iproute2, serf, python3-msgpack):
  scripts/netharness.py --scenario loss --k 5 --loss 10 --duration 30
  scripts/netharness.py --scenario kill --k 5 --colony .build/release/colony
  scripts/netharness.py --scenario partition --k 5 --split 2 --duration 20
  scripts/netharness.py --scenario rolling --k 5 --systems colony,serf --runs 3
  scripts/netharness.py --scenario converge --k 50 --colony-arg=--no-hive
  scripts/netharness.py --cleanup        # remove what killed runs left behind
Writes the events and figures as JSON (--json, default under the temp directory) and a
text timeline beside it (--timeline). --fail-on-false-death exits 1 if Colony shows any
false death or misses a heal/recovery (for CI).

Cleanup. Every namespace and link the run creates is named after its pid and written to a
state file (<tmp>/colony-netharness/<pid>.json) before it is created. They are removed on
normal exit, on SIGINT/SIGTERM/SIGHUP and on errors; the agents also die with the harness
(PR_SET_PDEATHSIG). After a kill -9 of the harness, `--cleanup` removes the namespaces,
links, processes and files of every run whose creating process is gone, and nothing else.
"""
import argparse, ctypes, json, os, random, re, secrets, shutil, signal, socket, statistics, subprocess
import sys, tempfile, threading, time

try:
    import msgpack
except ImportError:
    msgpack = None

PREFIX = "colnh"
STATE_DIR = os.path.join(tempfile.gettempdir(), "colony-netharness")
NS_RE = re.compile(rf"^{PREFIX}-(\d+)-(br|h\d+)$")
LINK_RE = re.compile(rf"^{PREFIX}(\d+)$")
DEAD = {"colony": {"dead", "left"}, "serf": {"failed", "left", "leaving"}}
ALIVE = "alive"


# ---------------------------------------------------------------------------------------
# Processes, commands, state file

def sh(*cmd, check=True, input=None):
    r = subprocess.run(list(cmd), input=input, text=True, capture_output=True)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {r.stderr.strip() or r.stdout.strip()}")
    return r


def starttime(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except OSError:
        return None


def creator_alive(pid, start=None):
    st = starttime(pid)
    return st is not None and (start is None or st == start)


CLK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid):
    """CPU seconds (user + system) a process has used so far, or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            parts = f.read().rsplit(")", 1)[1].split()
        return (int(parts[11]) + int(parts[12])) / CLK
    except (OSError, IndexError, ValueError):
        return None


_libc = ctypes.CDLL(None, use_errno=True)


def _die_with_parent():
    _libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class State:
    """What this run created, written before each creation so a killed run can be undone."""

    def __init__(self, pid):
        os.makedirs(STATE_DIR, exist_ok=True)
        self.path = os.path.join(STATE_DIR, f"{pid}.json")
        self.data = {"pid": pid, "starttime": starttime(pid), "netns": [], "links": [], "workdir": None,
                     "subnet": None, "created": time.strftime("%Y-%m-%dT%H:%M:%S")}
        self.save()

    def add(self, key, value):
        if value not in self.data[key]:
            self.data[key].append(value)
            self.save()

    def set(self, key, value):
        self.data[key] = value
        self.save()

    def save(self):
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.data, f)
        os.replace(tmp, self.path)


def list_netns():
    out = sh("ip", "netns", "list", check=False).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def list_root_links():
    out = sh("ip", "-o", "link", "show", check=False).stdout
    return [line.split(":")[1].strip().split("@")[0] for line in out.splitlines() if ":" in line]


def teardown(data, log=print):
    """Remove everything recorded in one state: processes inside its namespaces, the
    namespaces, its root-namespace link, its work directory, the state file."""
    own = set(data.get("netns", []))
    present = [ns for ns in list_netns() if ns in own]
    for ns in present:
        for pid in sh("ip", "netns", "pids", ns, check=False).stdout.split():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (OSError, ValueError):
                pass
    deadline = time.time() + 5
    while time.time() < deadline and any(sh("ip", "netns", "pids", ns, check=False).stdout.strip() for ns in present):
        time.sleep(0.05)
    for ns in present:
        sh("ip", "netns", "del", ns, check=False)
    links = set(list_root_links())
    for link in data.get("links", []):
        if link in links:
            sh("ip", "link", "del", link, check=False)
    work = data.get("workdir")
    if work and os.path.isdir(work) and os.path.basename(work).startswith(f"{PREFIX}-{data['pid']}-"):
        shutil.rmtree(work, ignore_errors=True)
    if present or data.get("links"):
        log(f"removed run {data['pid']}: {len(present)} namespaces, links {data.get('links', [])}")


def cleanup_dead_runs():
    """--cleanup: undo every run whose creating process is gone; never anything else."""
    removed = 0
    seen = set()
    if os.path.isdir(STATE_DIR):
        for name in sorted(os.listdir(STATE_DIR)):
            if not name.endswith(".json"):
                continue
            path = os.path.join(STATE_DIR, name)
            try:
                with open(path) as f:
                    data = json.load(f)
            except (OSError, ValueError):
                continue
            pid = data.get("pid")
            seen.add(pid)
            if creator_alive(pid, data.get("starttime")):
                print(f"run {pid} is still running: left alone")
                continue
            teardown(data)
            os.remove(path)
            removed += 1
    # Leftovers with no state file (the file was lost): recognised by name, creator gone.
    orphans = {}
    for ns in list_netns():
        m = NS_RE.match(ns)
        if m and int(m.group(1)) not in seen and not creator_alive(int(m.group(1))):
            pid = int(m.group(1))
            orphans.setdefault(pid, {"pid": pid, "netns": [], "links": []})["netns"].append(ns)
    for link in list_root_links():
        m = LINK_RE.match(link)
        if m and int(m.group(1)) not in seen and not creator_alive(int(m.group(1))):
            pid = int(m.group(1))
            orphans.setdefault(pid, {"pid": pid, "netns": [], "links": []})["links"].append(link)
    for data in orphans.values():
        teardown(data)
        removed += 1
    print(f"cleanup: {removed} dead run(s) removed")


# ---------------------------------------------------------------------------------------
# Network

class Network:
    def __init__(self, k, state):
        self.k, self.state = k, state
        pid = os.getpid()
        self.br = f"{PREFIX}-{pid}-br"
        self.root_link = f"{PREFIX}{pid}"
        self.hosts = list(range(1, k + 1))
        self.ns = {i: f"{PREFIX}-{pid}-h{i}" for i in self.hosts}
        self.subnet = None

    def addr(self, i):
        return f"{self.subnet}.{i}"

    def mac(self, i):
        """A fixed, locally administered MAC for host i (254: the observer's link)."""
        return "02:c0:1d:%02x:00:%02x" % (int(self.subnet.rsplit(".", 1)[1]), i)

    def _pick_subnet(self):
        used = (sh("ip", "-4", "-o", "addr", "show", check=False).stdout
                + sh("ip", "-4", "route", "show", "table", "all", check=False).stdout)
        others = set()
        if os.path.isdir(STATE_DIR):
            for name in os.listdir(STATE_DIR):
                try:
                    with open(os.path.join(STATE_DIR, name)) as f:
                        others.add(json.load(f).get("subnet"))
                except (OSError, ValueError):
                    pass
        base = os.getpid() % 250
        for n in range(250):
            x = (base + n) % 250 + 1
            net = f"10.213.{x}"
            if f" {net}." not in used and f"{net}.0/" not in used and net not in others:
                return net
        raise RuntimeError("no free 10.213.x.0/24")

    def create(self):
        if len(self.hosts) > 250:
            raise ValueError("at most 250 hosts")
        self.subnet = self._pick_subnet()
        self.state.set("subnet", self.subnet)
        self.state.add("netns", self.br)
        sh("ip", "netns", "add", self.br)
        sh("ip", "-n", self.br, "link", "set", "lo", "up")
        sh("ip", "-n", self.br, "link", "add", "br0", "type", "bridge", "forward_delay", "0")
        sh("ip", "-n", self.br, "link", "set", "br0", "up")
        self.state.add("links", self.root_link)
        sh("ip", "link", "add", self.root_link, "address", self.mac(254), "type", "veth", "peer", "name", "obs",
           "netns", self.br)
        sh("ip", "-n", self.br, "link", "set", "dev", "obs", "master", "br0", "up")
        sh("ip", "addr", "add", f"{self.subnet}.254/24", "dev", self.root_link)
        sh("ip", "link", "set", self.root_link, "up")
        for i in self.hosts:
            ns = self.ns[i]
            self.state.add("netns", ns)
            sh("ip", "netns", "add", ns)
            sh("ip", "-n", self.br, "link", "add", f"v{i}", "type", "veth", "peer", "name", "eth0",
               "address", self.mac(i), "netns", ns)
            sh("ip", "-n", self.br, "link", "set", f"v{i}", "master", "br0", "up")
            sh("ip", "-n", ns, "addr", "add", f"{self.addr(i)}/24", "dev", "eth0")
            sh("ip", "-n", ns, "link", "set", "eth0", "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        self.static_neighbours()
        self.apply()

    def static_neighbours(self):
        """Every host knows every other host's MAC from the start (permanent entries, no ARP).
        The kernel's ARP table is one table for all namespaces, and gc_thresh3 (1024 by
        default) caps its learned entries machine-wide: K hosts that all talk to each other
        need K*K of them, so at K=50 (2,550) the table overflows ("neighbor table
        overflow!" in dmesg) and packets are dropped at random for both systems. Permanent
        entries are not counted against the cap, and they live in namespaces and on links
        this run created, so nothing of the machine's own settings changes."""
        peers = [(i, self.addr(i), self.mac(i)) for i in self.hosts] + [(254, f"{self.subnet}.254", self.mac(254))]
        for i in self.hosts:
            batch = "".join(f"neigh replace {a} lladdr {m} dev eth0 nud permanent\n" for j, a, m in peers if j != i)
            sh("ip", "-n", self.ns[i], "-batch", "-", input=batch)
        batch = "".join(f"neigh replace {a} lladdr {m} dev {self.root_link} nud permanent\n"
                        for _, a, m in peers[:-1])
        sh("ip", "-batch", "-", input=batch)

    def counters(self):
        """(IPv4 frames between hosts, frames dropped) since the rules were last replaced."""
        r = sh("ip", "netns", "exec", self.br, "nft", "-j", "list", "table", "bridge", PREFIX, check=False)
        if r.returncode != 0:
            return 0, 0
        seen = dropped = 0
        for item in json.loads(r.stdout).get("nftables", []):
            expr = item.get("rule", {}).get("expr", [])
            count = next((e["counter"]["packets"] for e in expr if "counter" in e), None)
            if count is None:
                continue
            if any("drop" in e for e in expr):
                dropped += count
            else:
                seen += count
        return seen, dropped

    def apply(self, loss_in=None, loss_out=None, groups=None):
        """Replace every fault rule at once. loss_in/loss_out: {host: percent};
        groups: list of host lists, traffic between different groups is dropped.
        Returns the counters of the rules replaced."""
        before = self.counters() if self.subnet else (0, 0)
        rules = ["ether type != ip accept", 'iifname "obs" accept', 'oifname "obs" accept', "counter"]
        if groups:
            for a in groups:
                for b in groups:
                    if a is not b and a and b:
                        ia = ", ".join(f'"v{i}"' for i in a)
                        ib = ", ".join(f'"v{i}"' for i in b)
                        rules.append(f"iifname {{ {ia} }} oifname {{ {ib} }} counter drop")
        def chance(p):  # in steps of 0.1%
            return "" if p >= 100 else f"numgen random mod 1000 < {int(round(p * 10))} "
        for i, p in sorted((loss_out or {}).items()):
            if p > 0:
                rules.append(f'iifname "v{i}" {chance(p)}counter drop')
        for i, p in sorted((loss_in or {}).items()):
            if p > 0:
                rules.append(f'oifname "v{i}" {chance(p)}counter drop')
        body = "\n".join("    " + r for r in rules)
        script = (f"table bridge {PREFIX} {{}}\nflush table bridge {PREFIX}\n"
                  f"table bridge {PREFIX} {{\n  chain faults {{\n"
                  f"    type filter hook forward priority 0; policy accept;\n"
                  f"{body}\n  }}\n}}\n")
        sh("ip", "netns", "exec", self.br, "nft", "-f", "-", input=script)
        return before


# ---------------------------------------------------------------------------------------
# Systems

class ColonyClient:
    """GET /v1/members over one kept-alive connection. Written on a raw socket: at K=50 the
    harness polls hundreds of times a second, and http.client's header parsing alone cost
    more CPU than the agents."""

    def __init__(self, addr, token):
        self.addr, self.sock, self.buf, self.token = addr, None, b"", token
        self.request = (f"GET /v1/members HTTP/1.1\r\nHost: {addr}:7950\r\nAuthorization: Bearer {token}\r\n"
                        f"Connection: keep-alive\r\n\r\n").encode()

    def _recv(self):
        data = self.sock.recv(262144)
        if not data:
            raise OSError("closed")
        self.buf += data

    def members(self, timeout):
        try:
            if self.sock is None:
                self.sock = socket.create_connection((self.addr, 7950), timeout=timeout)
                self.buf = b""
            self.sock.settimeout(timeout)
            self.sock.sendall(self.request)
            while b"\r\n\r\n" not in self.buf:
                self._recv()
            head, self.buf = self.buf.split(b"\r\n\r\n", 1)
            lines = head.split(b"\r\n")
            code = int(lines[0].split()[1])
            length = None
            for line in lines[1:]:
                k, _, v = line.partition(b":")
                if k.strip().lower() == b"content-length":
                    length = int(v)
                elif k.strip().lower() == b"transfer-encoding":
                    raise OSError("chunked reply not handled")
            if length is None:
                raise OSError("no Content-Length")
            while len(self.buf) < length:
                self._recv()
            body, self.buf = self.buf[:length], self.buf[length:]
            if code != 200:
                raise OSError(f"HTTP {code}")
        except Exception:
            self.close()
            raise
        best = {}
        for m in json.loads(body):
            prev = best.get(m["name"])
            if prev is None or m.get("incarnation", 0) > prev.get("incarnation", 0):
                best[m["name"]] = m
        return {n: m["status"] for n, m in best.items()}

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def hive(self, timeout):
        """This agent's place in the hive (GET /v1/hive): (role, cell, term), on a connection of
        its own (once a second: the membership poll keeps its kept-alive one)."""
        import http.client
        c = http.client.HTTPConnection(self.addr, 7950, timeout=timeout)
        try:
            c.request("GET", "/v1/hive", headers={"Authorization": f"Bearer {self.token}"})
            r = c.getresponse()
            body = r.read()
            if r.status != 200:
                raise OSError(f"HTTP {r.status}")
        finally:
            c.close()
        node = json.loads(body)["node"]
        return node["role"], node.get("cell"), node.get("term", 0)


class SerfClient:
    def __init__(self, addr):
        self.addr, self.sock, self.unpacker, self.seq = addr, None, None, 0

    def _read(self, count):
        out = []
        while True:
            for obj in self.unpacker:
                out.append(obj)
                if len(out) == count:
                    return out
            data = self.sock.recv(65536)
            if not data:
                raise OSError("closed")
            self.unpacker.feed(data)

    def members(self, timeout):
        try:
            if self.sock is None:
                self.sock = socket.create_connection((self.addr, 7373), timeout=timeout)
                self.unpacker = msgpack.Unpacker(raw=False)
                self.seq += 1
                self.sock.sendall(msgpack.packb({"Command": "handshake", "Seq": self.seq})
                                  + msgpack.packb({"Version": 1}))
                header, = self._read(1)
                if header.get("Error"):
                    raise OSError(header["Error"])
            self.sock.settimeout(timeout)
            self.seq += 1
            self.sock.sendall(msgpack.packb({"Command": "members", "Seq": self.seq}))
            header, body = self._read(2)
            if header.get("Error"):
                raise OSError(header["Error"])
        except Exception:
            self.close()
            raise
        return {m["Name"]: m["Status"] for m in body["Members"]}

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None


class System:
    def __init__(self, name, binary, extra, log_level, net, work, token):
        self.name, self.binary, self.extra, self.log_level = name, binary, extra, log_level
        self.net, self.work, self.token = net, work, token
        self.procs = {}
        self.cpu_s = 0.0  # CPU used by the agents that are gone
        self.crashed = []  # (host, exit code) of agents that exited by themselves

    def data_dir(self, i):
        return os.path.join(self.work, self.name, f"h{i}")

    def command(self, i, joins):
        a = self.net.addr(i)
        if self.name == "colony":
            cmd = [self.binary, "agent", "--name", f"h{i}", "--bind", f"{a}:7946", "--http", f"{a}:7950",
                   "--http-token", self.token, "--profile", "lan", "--data-dir", self.data_dir(i),
                   "--log-level", self.log_level]
            for j in joins:
                cmd += ["--join", f"{self.net.addr(j)}:7946"]
        else:
            cmd = [self.binary, "agent", f"-node=h{i}", f"-bind={a}:7947", f"-rpc-addr={a}:7373", "-profile=lan",
                   f"-snapshot={os.path.join(self.data_dir(i), 'snapshot')}", f"-log-level={self.log_level}",
                   "-retry-interval=1s"]
            for j in joins:
                cmd.append(f"-retry-join={self.net.addr(j)}:7947")
        return cmd + self.extra

    def start(self, i, joins):
        self.starts = getattr(self, "starts", 0) + 1
        os.makedirs(self.data_dir(i), exist_ok=True)
        log = open(os.path.join(self.work, "logs", f"{self.name}-h{i}.log"), "a")
        log.write(f"--- start {time.strftime('%H:%M:%S')}\n")
        log.flush()
        p = subprocess.Popen(["ip", "netns", "exec", self.net.ns[i]] + self.command(i, joins), stdin=subprocess.DEVNULL,
                             stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        log.close()
        self.procs[i] = p
        return p

    def client(self, i):
        if self.name == "colony":
            return ColonyClient(self.net.addr(i), self.token)
        return SerfClient(self.net.addr(i))

    def signal(self, i, sig):
        p = self.procs.get(i)
        if p is not None and p.poll() is None:
            os.kill(p.pid, sig)

    def kill(self, i):
        p = self.procs.pop(i, None)
        if p is not None:
            if p.poll() is None:
                self.cpu_s += proc_cpu(p.pid) or 0.0
                os.kill(p.pid, signal.SIGKILL)
            p.wait()

    def exited(self):
        """Agents that exited although nobody killed them: [(host, code)]."""
        out = []
        for i, p in list(self.procs.items()):
            if p.poll() is not None:
                del self.procs[i]
                self.crashed.append((i, p.returncode))
                out.append((i, p.returncode))
        return out

    def stop_all(self):
        for i in list(self.procs):
            p = self.procs[i]
            if p.poll() is None:
                self.cpu_s += proc_cpu(p.pid) or 0.0
                p.send_signal(signal.SIGKILL)
        for p in self.procs.values():
            p.wait()
        self.procs.clear()


# ---------------------------------------------------------------------------------------
# Observation

class Poller(threading.Thread):
    """Polls one agent's view; records every member status change."""

    def __init__(self, run, system, host):
        super().__init__(daemon=True)
        self.run_, self.system, self.host = run, system, host
        self.client = system.client(host)
        self.active = False
        self.gen = 0
        self.view = {}
        self.t_view = -1.0
        self.periods = []
        self.errors = 0
        self.hive_next = 0.0
        self.hive_last = None

    def poll_hive(self, t):
        """Colony only, once a second: record each change of this agent's hive role, cell and term."""
        if self.system.name != "colony" or t < self.hive_next or not self.run_.args.hive_poll:
            return
        self.hive_next = t + 1.0
        try:
            place = self.client.hive(timeout=1.0)
        except Exception:
            return
        if place != self.hive_last:
            self.hive_last = place
            with self.run_.lock:
                self.run_.hive_events.append((t, f"h{self.host}", *place))

    def activate(self):
        with self.run_.lock:
            self.gen += 1
            self.active = True

    def reset(self, t):
        """The agent is gone: its view is forgotten (recorded as a reset to None)."""
        with self.run_.lock:
            self.gen += 1
            self.active = False
            for m, s in sorted(self.view.items()):
                self.run_.events.append((t, self.system.name, f"h{self.host}", m, s, None))
            self.view = {}
            self.t_view = -1.0

    def run(self):
        last_ok = None
        interval = self.run_.poll
        while not self.run_.stop.is_set():
            t_start = time.monotonic()
            if not self.active:
                last_ok = None
                self.client.close()
                time.sleep(0.05)
                continue
            gen = self.gen
            try:
                view = self.client.members(timeout=1.0)
            except Exception:
                self.errors += 1
                view = None
            t = self.run_.now()
            if view is not None:
                with self.run_.lock:
                    if gen == self.gen and self.active:
                        names = {f"h{i}" for i in self.run_.net.hosts}
                        for m in sorted(set(view) | set(self.view)):
                            if m not in names:
                                continue
                            old, new = self.view.get(m), view.get(m)
                            if old != new:
                                self.run_.events.append((t, self.system.name, f"h{self.host}", m, old, new))
                        self.view = {m: s for m, s in view.items() if m in names}
                        self.t_view = t
                        if last_ok is not None:
                            self.periods.append(t - last_ok)
                        last_ok = t
                self.poll_hive(t)
            time.sleep(max(0.0, interval - (time.monotonic() - t_start)))


# ---------------------------------------------------------------------------------------
# Analysis

def pct(values, q):
    if not values:
        return None
    v = sorted(values)
    return v[min(len(v) - 1, int(round(q * (len(v) - 1))))]


class Truth:
    """What really happened to each member: killed intervals (per system), stalls, partitions."""

    def __init__(self):
        self.down = {}  # (system, host) -> [[t0, t1 or None]]
        self.stalls = {}  # host -> [[t0, t1]]
        self.partitions = []  # (t0, t_heal or None, groups)
        self.targets = set()  # hosts under a targeted fault (gray, oneway, flipflop, stall)

    def kill(self, system, host, t):
        self.down.setdefault((system, host), []).append([t, None])

    def restart(self, system, host, t):
        self.down[(system, host)][-1][1] = t

    def is_down(self, system, host, t):
        return any(a <= t and (b is None or t < b) for a, b in self.down.get((system, host), []))

    def down_within(self, system, host, t0, t1):
        return any(a <= t1 and (b is None or b > t0) for a, b in self.down.get((system, host), []))

    def across_partition(self, o, m, t, grace):
        for a, b, groups in self.partitions:
            if a <= t and (b is None or t <= b + grace):
                side = {h: gi for gi, g in enumerate(groups) for h in g}
                if side.get(o) != side.get(m):
                    return True
        return False


def name(h):
    return f"h{h}"


def host_of(n):
    return int(n[1:])


def replay(events, system, t_until):
    st = {}
    for t, s, o, m, old, new in events:
        if t > t_until:
            break
        if s == system:
            st[(o, m)] = new
    return st


def all_alive_time(events, system, pairs, t_from, t_to=float("inf")):
    """Earliest t >= t_from at which every (observer, member) pair in `pairs` is alive."""
    st = replay(events, system, t_from)
    bad = {p for p in pairs if st.get(p) != ALIVE}
    if not bad:
        return t_from
    for t, s, o, m, old, new in events:
        if t <= t_from or s != system:
            continue
        if t > t_to:
            break
        if (o, m) in pairs:
            if new == ALIVE:
                bad.discard((o, m))
            else:
                bad.add((o, m))
            if not bad:
                return t
    return None


def first_gone_times(events, system, observers, member, t_from):
    """Per observer: first time >= t_from it shows `member` dead (or drops it)."""
    out = {}
    for t, s, o, m, old, new in events:
        if t < t_from or s != system or m != member or o not in observers or o in out:
            continue
        if new is None and old is not None and o == member:
            continue
        if new in DEAD[system] or (new is None and old is not None):
            out[o] = t
    return out


def first_gone_pairs(events, system, t_from):
    """Per (observer, member): first time >= t_from the observer shows the member dead."""
    out = {}
    for t, s, o, m, old, new in events:
        if t >= t_from and s == system and new in DEAD[system] and (o, m) not in out:
            out[(o, m)] = t
    return out


def classify_deaths(events, system, truth, grace, t_end):
    """Every transition into a dead status, classified."""
    deaths = []
    suspects = []
    for idx, (t, s, o, m, old, new) in enumerate(events):
        if s != system or new == old:
            continue
        ho, hm = host_of(o), host_of(m)
        if new in DEAD[system] and old not in DEAD[system]:
            if truth.is_down(system, hm, t):
                kind = "detection"
            elif truth.down_within(system, hm, t - grace, t):
                kind = "late"
            elif truth.across_partition(ho, hm, t, grace):
                kind = "partition"
            else:
                kind = "false"
            until = None
            for t2, s2, o2, m2, old2, new2 in events[idx + 1:]:
                if s2 == system and o2 == o and m2 == m and new2 not in DEAD[system]:
                    until = t2
                    break
            deaths.append({"t": t, "observer": o, "member": m, "status": new, "kind": kind,
                           "dead_for_s": (until - t) if until is not None else None,
                           "target_member": hm in truth.targets, "target_observer": ho in truth.targets})
        elif new == "suspect" and not truth.is_down(system, hm, t) and not truth.down_within(system, hm, t - grace, t) \
                and not truth.across_partition(ho, hm, t, grace):
            suspects.append((t, o, m))
    return deaths, suspects


def hive_churn(hive_events, t_fault, t_end):
    """The hive's churn, from each agent's (role, cell, term) once a second: queen terms seen
    (distinct cell and term some agent reported as queen), distinct cells with a queen, and the
    same counted only for terms first seen after the fault began (cells that broke and formed
    again under the fault)."""
    first = {}
    for t, _, role, cell, term in sorted(hive_events, key=lambda e: e[0]):
        if role == "queen" and cell is not None:
            first.setdefault((cell, term), t)
    during = [k for k, t in first.items() if t_fault is not None and t_fault <= t <= t_end]
    changes = len(hive_events) - len({e[1] for e in hive_events})
    return {"queen_terms": len(first), "cells": len({c for c, _ in first}),
            "queen_terms_during_fault": len(during) if t_fault is not None else None,
            "cells_founded_during_fault": len({c for c, _ in during} - {c for (c, _), t in first.items()
                                                                          if t_fault is not None and t < t_fault})
            if t_fault is not None else None,
            "role_changes": changes}


def false_summary(deaths, pred=lambda d: True):
    f = [d for d in deaths if d["kind"] == "false" and pred(d)]
    return {"transitions": len(f), "pairs": len({(d["observer"], d["member"]) for d in f}),
            "members": len({d["member"] for d in f}),
            "unresolved": sum(1 for d in f if d["dead_for_s"] is None),
            "longest_s": max((d["dead_for_s"] for d in f if d["dead_for_s"] is not None), default=None)}


# ---------------------------------------------------------------------------------------
# One run

class Run:
    def __init__(self, args, net, systems, rng, index):
        self.args, self.net, self.systems, self.rng, self.index = args, net, systems, rng, index
        self.lock = threading.Lock()
        self.events = []
        self.hive_events = []
        self.faults = []
        self.truth = Truth()
        self.stop = threading.Event()
        self.poll = args.poll
        self.t0 = time.monotonic()
        self.cpu0 = sum(os.times()[:2])
        self.harness_cpu_s = None
        self.pollers = {(s.name, i): Poller(self, s, i) for s in systems for i in net.hosts}
        self.marks = {}
        self.figures = {s.name: {} for s in systems}

    def now(self):
        return time.monotonic() - self.t0

    def fault(self, text):
        t = self.now()
        self.faults.append((t, text))
        print(f"  [{t:8.2f}] {text}", flush=True)
        return t

    def rules(self, **kw):
        """Replace the fault rules; log how much the rules being replaced dropped."""
        seen, dropped = self.net.apply(**kw)
        if dropped:
            self.fault(f"(the rules just replaced dropped {dropped} of {seen} host-to-host IPv4 frames, "
                       f"{100.0 * dropped / seen:.1f}%)")
        self.dropped = getattr(self, "dropped", [])
        self.dropped.append((seen, dropped))

    def check_exits(self):
        """An agent that exits by itself is recorded (a fault of its own) and counts as down."""
        for s in self.systems:
            for i, code in s.exited():
                t = self.fault(f"h{i} ({s.name}) EXITED by itself, code {code}")
                self.truth.kill(s.name, i, t)
                self.pollers[(s.name, i)].reset(t)

    def sleep(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.check_exits()
            time.sleep(max(0.0, min(0.1, end - time.monotonic())))

    def wait(self, pred, timeout, step=0.1):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.check_exits()
            if pred():
                return True
            time.sleep(step)
        return pred()

    # Live predicates (used only to decide when to move on; figures come from the events).
    def live_all_alive(self, system, observers, members, since):
        with self.lock:
            for o in observers:
                p = self.pollers[(system, o)]
                if p.t_view < since or any(p.view.get(name(m)) != ALIVE for m in members):
                    return False
        return True

    def live_all_see(self, system, observers, member, statuses, since):
        with self.lock:
            for o in observers:
                p = self.pollers[(system, o)]
                if p.t_view < since or p.view.get(name(member)) not in statuses:
                    return False
        return True

    def start_agent(self, system, i, joins):
        system.start(i, joins)
        self.pollers[(system.name, i)].activate()

    def kill_agent(self, system, i):
        t = self.now()
        system.kill(i)
        if not self.truth.is_down(system.name, i, t):
            self.truth.kill(system.name, i, t)
        self.pollers[(system.name, i)].reset(t)
        return t

    def restart_agent(self, system, i, joins):
        t = self.now()
        self.truth.restart(system.name, i, t)
        self.start_agent(system, i, joins)
        return t

    def converge(self):
        hosts = self.net.hosts
        seed = hosts[0]
        for p in self.pollers.values():
            p.start()
        for s in self.systems:
            self.start_agent(s, seed, [])
        ok = self.wait(lambda: all(self.pollers[(s.name, seed)].t_view >= 0 for s in self.systems), 30)
        if not ok:
            raise RuntimeError("the seed agents did not answer within 30 s")
        t = self.fault(f"start {len(hosts) - 1} agents joining h{seed}")
        self.marks["joiners"] = t
        for s in self.systems:
            for i in hosts[1:]:
                self.start_agent(s, i, [seed])
        done = self.wait(lambda: all(self.live_all_alive(s.name, hosts, hosts, t) for s in self.systems),
                         self.args.converge_timeout, 0.2)
        if not done:
            self.fault(f"not converged after {self.args.converge_timeout:.0f} s; going on")

    def pick_target(self):
        if self.args.target:
            return self.args.target
        return self.rng.choice(self.net.hosts[1:] or self.net.hosts)

    def fault_loss(self, hosts, pct_, direction):
        lin = {i: pct_ for i in hosts} if direction in ("in", "both") else {}
        lout = {i: pct_ for i in hosts} if direction in ("out", "both") else {}
        self.rules(loss_in=lin, loss_out=lout)

    def recover(self, label):
        t = self.fault(label)
        self.marks["clean"] = t
        hosts = self.net.hosts
        self.wait(lambda: all(self.live_all_alive(s.name, hosts, hosts, t) for s in self.systems),
                  self.args.recover_timeout, 0.2)
        self.sleep(self.args.tail)
        return t

    # Scenarios --------------------------------------------------------------------------
    def sc_loss(self):
        a = self.args
        self.marks["fault"] = self.fault(
            f"loss {a.loss:g}% per hook ({a.direction}) on every host for {a.duration:g} s")
        self.fault_loss(self.net.hosts, a.loss, a.direction)
        self.sleep(a.duration)
        self.rules()
        self.recover("loss off: network clean")

    def sc_gray(self):
        a = self.args
        h = self.pick_target()
        self.truth.targets.add(h)
        self.marks["fault"] = self.fault(
            f"gray failure: h{h} at {a.loss:g}% loss per hook ({a.direction}) for {a.duration:g} s")
        self.fault_loss([h], a.loss, a.direction)
        self.sleep(a.duration)
        self.rules()
        self.recover("gray failure over: network clean")

    def sc_oneway(self):
        a = self.args
        h = self.pick_target()
        self.truth.targets.add(h)
        self.marks["fault"] = self.fault(f"one-way: h{h} loses {a.loss:g}% of its inbound traffic for {a.duration:g} s")
        self.fault_loss([h], a.loss, "in")
        self.sleep(a.duration)
        self.rules()
        self.recover("one-way loss over: network clean")

    def sc_flipflop(self):
        a = self.args
        h = self.pick_target()
        self.truth.targets.add(h)
        self.marks["fault"] = self.now()
        end = time.monotonic() + a.duration
        on = True
        while time.monotonic() < end:
            if on:
                self.fault(f"flip-flop: h{h} inbound loss {a.loss:g}% ON")
                self.fault_loss([h], a.loss, "in")
            else:
                self.fault(f"flip-flop: h{h} inbound loss OFF")
                self.rules()
            on = not on
            self.sleep(min(a.period, max(0.0, end - time.monotonic())))
        self.rules()
        self.recover("flip-flop over: network clean")

    def sc_partition(self):
        a = self.args
        hosts = self.net.hosts
        sizes = [int(x) for x in a.split.split(",")] if a.split else [len(hosts) // 2]
        groups, rest = [], list(hosts)
        for n in sizes:
            groups.append(rest[:n])
            rest = rest[n:]
        if rest:
            groups.append(rest)
        groups = [g for g in groups if g]
        if len(groups) < 2:
            raise SystemExit("--split must leave at least two non-empty groups")
        sides = " | ".join(",".join(name(h) for h in g) for g in groups)
        # Phase randomised: the cut and the heal land anywhere in the agents' periodic work
        # (probe rounds, reconnect every 10 s, anti-entropy every 30 s), not always at the
        # same offset from their start.
        before = self.rng.uniform(0, a.jitter)
        length = a.duration + self.rng.uniform(0, a.jitter)
        self.sleep(before)
        t = self.fault(f"partition {sides} for {length:.2f} s (after {before:.2f} s of phase jitter)")
        self.marks["fault"] = t
        self.rules(groups=groups)
        part = [t, None, groups]
        self.truth.partitions.append(part)
        self.sleep(length)
        self.rules()
        th = self.fault("partition healed")
        part[1] = th
        self.marks["heal"] = th
        self.wait(lambda: all(self.live_all_alive(s.name, hosts, hosts, th) for s in self.systems), a.heal_timeout, 0.2)
        self.sleep(a.tail)

    def sc_stall(self):
        a = self.args
        targets = [self.pick_target()] if a.target or a.targets == 1 else self.rng.sample(self.net.hosts[1:], a.targets)
        self.truth.targets.update(targets)
        self.marks["fault"] = self.now()
        end = time.monotonic() + a.duration
        stalls = 0
        while time.monotonic() < end:
            d = self.rng.uniform(a.stall_min, a.stall_max)
            t = self.fault(f"SIGSTOP {','.join(name(h) for h in targets)} for {d:.2f} s")
            for h in targets:
                for s in self.systems:
                    s.signal(h, signal.SIGSTOP)
            self.sleep(d)
            for h in targets:
                for s in self.systems:
                    s.signal(h, signal.SIGCONT)
            t1 = self.fault(f"SIGCONT {','.join(name(h) for h in targets)}")
            for h in targets:
                self.truth.stalls.setdefault(h, []).append([t, t1])
            stalls += 1
            self.sleep(self.rng.uniform(a.gap_min, a.gap_max))
        self.marks["stalls"] = stalls
        self.recover("stalls over")

    def sc_kill(self):
        a = self.args
        h = self.pick_target()
        self.marks["victim"] = h
        t = self.fault(f"kill -9 h{h} (every system)")
        for s in self.systems:
            self.kill_agent(s, h)
        self.marks["kill"] = t
        survivors = [i for i in self.net.hosts if i != h]
        self.wait(lambda: all(self.live_all_see(s.name, survivors, h, DEAD[s.name] | {None}, t) for s in self.systems),
                  a.duration, 0.1)
        self.sleep(2)

    def sc_rolling(self):
        a = self.args
        hosts = self.net.hosts
        order = hosts[: a.rolling_count] if a.rolling_count else hosts
        self.marks["rolling"] = []
        for h in order:
            others = [i for i in hosts if i != h]
            joins = [others[0]] if others else []
            tk = self.fault(f"kill -9 h{h} (every system)")
            for s in self.systems:
                self.kill_agent(s, h)
            rec = {"host": h, "kill": tk, "restart": {}}
            pending = {s.name: s for s in self.systems}
            end = time.monotonic() + a.down_max
            while pending and time.monotonic() < end:
                for sn, s in list(pending.items()):
                    seen = self.live_all_see(sn, others, h, DEAD[sn] | {None}, tk)
                    if (a.down is not None and self.now() - tk >= a.down) or (a.down is None and seen):
                        rec["restart"][sn] = self.restart_agent(s, h, joins)
                        self.fault(f"restart h{h} ({sn}, same data directory)")
                        del pending[sn]
                time.sleep(0.05)
            for sn, s in pending.items():
                rec["restart"][sn] = self.restart_agent(s, h, joins)
                self.fault(f"restart h{h} ({sn}, same data directory; "
                           f"not seen dead everywhere within {a.down_max:g} s)")
            self.marks["rolling"].append(rec)
            def back():
                return all(self.live_all_alive(s.name, hosts, [h], rec["restart"][s.name])
                           and self.live_all_alive(s.name, [h], hosts, rec["restart"][s.name]) for s in self.systems)
            self.wait(back, a.back_timeout, 0.1)
            self.sleep(a.gap)
        self.sleep(a.tail)

    def sc_converge(self):
        self.marks["fault"] = self.fault(f"steady for {self.args.duration:g} s")
        self.sleep(self.args.duration)

    # Figures ----------------------------------------------------------------------------
    def analyse(self):
        a = self.args
        hosts = self.net.hosts
        names = [name(h) for h in hosts]
        t_end = self.marks.get("end", self.now())
        self.events.sort(key=lambda e: e[0])
        ev = self.events
        for s in self.systems:
            sn = s.name
            f = self.figures[sn]
            allpairs = {(o, m) for o in names for m in names}
            tj = self.marks["joiners"]
            tc = all_alive_time(ev, sn, allpairs, tj)
            f["converge_s"] = None if tc is None else tc - tj
            # The same, counted from the moment the last joiner's agent first answered: at
            # large K on few cores most of converge_s is processes starting, not the protocol.
            up = {}
            for t, s_, o, m, old, new in ev:
                if s_ == sn and o == m and new is not None and t >= tj and o not in up:
                    up[o] = t
            last_up = max(up.values()) if len(up) >= len(names) - 1 else None  # every joiner answered
            f["agents_up_s"] = None if last_up is None else last_up - tj
            f["converge_after_last_up_s"] = None if tc is None or last_up is None else max(0.0, tc - last_up)
            deaths, suspects = classify_deaths(ev, sn, self.truth, a.grace, t_end)
            f["deaths"] = deaths
            f["false_deaths"] = false_summary(deaths)
            if self.truth.targets:
                tg = self.truth.targets
                f["false_deaths_of_target"] = false_summary(deaths, lambda d: d["target_member"])
                f["false_deaths_seen_by_target"] = false_summary(
                    deaths, lambda d: d["target_observer"] and not d["target_member"])
                f["false_deaths_healthy"] = false_summary(
                    deaths, lambda d: not d["target_member"] and not d["target_observer"])
                f["targets"] = [name(h) for h in sorted(tg)]
                # Flapping: how often a faulted host went from live to gone or back in the other
                # hosts' views (Colony's suspect counts as live: Serf shows no such state).
                tnames = {name(h) for h in tg}
                live = {"alive", "suspect"}
                f["target_status_changes"] = sum(
                    1 for _, sy, o, m, old, new in ev
                    if sy == sn and m in tnames and o not in tnames and old is not None and new is not None
                    and (old in live) != (new in live))
            if sn == "colony" and a.hive_poll:
                f["hive"] = hive_churn(self.hive_events, self.marks.get("fault"), t_end)
            if sn == "colony":
                f["false_suspicions"] = {"transitions": len(suspects), "pairs": len({(o, m) for _, o, m in suspects}),
                                         "members": len({m for _, _, m in suspects})}
            if "clean" in self.marks:
                t = self.marks["clean"]
                r = all_alive_time(ev, sn, allpairs, t)
                f["recover_s"] = None if r is None else r - t
            if "heal" in self.marks:
                t = self.marks["heal"]
                r = all_alive_time(ev, sn, allpairs, t)
                f["heal_s"] = None if r is None else r - t
                tp, _, groups = self.truth.partitions[-1]
                side = {h: gi for gi, g in enumerate(groups) for h in g}
                gone = first_gone_pairs(ev, sn, tp)
                split_t = [gone.get((name(o), name(m))) for o in hosts for m in hosts if side[o] != side[m]]
                complete = split_t and None not in split_t and max(split_t) <= t
                f["partition_seen_by_all_s"] = max(split_t) - tp if complete else None
            if "kill" in self.marks:
                t, v = self.marks["kill"], self.marks["victim"]
                surv = [name(i) for i in hosts if i != v]
                g = first_gone_times(ev, sn, surv, name(v), t)
                f["kill_first_s"] = min(g.values()) - t if g else None
                f["kill_all_s"] = max(g.values()) - t if len(g) == len(surv) else None
                f["kill_seen_by"] = f"{len(g)}/{len(surv)}"
            if "rolling" in self.marks:
                backs, missing, per = [], 0, []
                for rec in self.marks["rolling"]:
                    h, tr = rec["host"], rec["restart"][sn]
                    pairs = {(o, name(h)) for o in names} | {(name(h), m) for m in names}
                    b = all_alive_time(ev, sn, pairs, tr)
                    surv = [name(i) for i in hosts if i != h]
                    g = first_gone_times(ev, sn, surv, name(h), rec["kill"])
                    g = {o: x for o, x in g.items() if x <= tr}
                    per.append({"host": name(h), "down_s": tr - rec["kill"], "back_s": None if b is None else b - tr,
                                "seen_dead_by": len(g)})
                    if b is None:
                        missing += 1
                    else:
                        backs.append(b - tr)
                f["rolling"] = per
                f["rolling_back_p50_s"] = statistics.median(backs) if backs else None
                f["rolling_back_max_s"] = max(backs) if backs else None
                f["rolling_back_missing"] = missing
                f["rolling_kill_to_restart_p50_s"] = statistics.median(x["down_s"] for x in per) if per else None
            if "stalls" in self.marks:
                f["stalls"] = self.marks["stalls"]
            f["agents_exited_by_themselves"] = [f"h{i} (code {c})" for i, c in s.crashed]
            f["cpu_s_per_agent_process"] = s.cpu_s / max(1, s.starts)
            f["cpu_cores_all_agents"] = s.cpu_s / max(1e-9, t_end - self.marks["joiners"])
            periods = [x for i in hosts for x in self.pollers[(sn, i)].periods]
            f["poll_period_p50_s"] = pct(periods, 0.5)
            f["poll_period_p99_s"] = pct(periods, 0.99)

    def failed(self, sn):
        """Reasons a CI run fails for this system (false death or a missed heal/recovery)."""
        f = self.figures[sn]
        why = []
        if f["false_deaths"]["transitions"]:
            why.append(f"{f['false_deaths']['transitions']} false death transition(s)")
        for key in ("converge_s", "heal_s", "recover_s"):
            if key in f and f[key] is None:
                why.append(f"missed {key[:-2]}")
        if f.get("agents_exited_by_themselves"):
            why.append("agents exited by themselves: " + ", ".join(f["agents_exited_by_themselves"]))
        if f.get("rolling_back_missing"):
            why.append(f"{f['rolling_back_missing']} restart(s) never back alive everywhere")
        return why


# ---------------------------------------------------------------------------------------
# Reports

def fmt(v):
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.2f}"
    return str(v)


def rows_for(fig):
    rows = [("converge: all see all alive (s)", fig.get("converge_s")),
            ("converge: last joiner's agent answering (s)", fig.get("agents_up_s")),
            ("converge: all see all, after the last agent answered (s)", fig.get("converge_after_last_up_s"))]
    fd = fig["false_deaths"]
    rows += [("false deaths: transitions", fd["transitions"]), ("false deaths: observer/member pairs", fd["pairs"]),
             ("false deaths: members affected", fd["members"]),
             ("false deaths: still dead at the end", fd["unresolved"]),
             ("false deaths: longest (s)", fd["longest_s"])]
    for key, label in (("false_deaths_of_target", "of the faulted host"),
                       ("false_deaths_seen_by_target", "seen only by the faulted host"),
                       ("false_deaths_healthy", "healthy seen by healthy")):
        if key in fig:
            rows.append((f"false deaths {label}: transitions / pairs",
                         f"{fig[key]['transitions']} / {fig[key]['pairs']}"))
    if "target_status_changes" in fig:
        rows.append(("faulted host: live/gone changes in the others' views", fig["target_status_changes"]))
    rows.append(("agents that exited by themselves", len(fig.get("agents_exited_by_themselves", []))))
    if "false_suspicions" in fig:
        fs = fig["false_suspicions"]
        rows.append(("suspicions of live members: transitions / pairs", f"{fs['transitions']} / {fs['pairs']}"))
    if "hive" in fig:
        hv = fig["hive"]
        rows.append(("hive: queen terms / cells seen over the run", f"{hv['queen_terms']} / {hv['cells']}"))
        if hv.get("queen_terms_during_fault") is not None:
            rows.append(("hive: queen terms / new cells begun during the fault",
                         f"{hv['queen_terms_during_fault']} / {hv['cells_founded_during_fault']}"))
        rows.append(("hive: role, cell or term changes of agents", hv["role_changes"]))
    for key, label in (("kill_first_s", "kill -9: seen dead by the first survivor (s)"),
                       ("kill_all_s", "kill -9: seen dead by every survivor (s)"),
                       ("kill_seen_by", "kill -9: survivors that saw it"),
                       ("partition_seen_by_all_s", "partition: every host sees the other side dead (s)"),
                       ("heal_s", "partition heal: every host sees all alive (s)"),
                       ("recover_s", "after the fault: every host sees all alive (s)"),
                       ("rolling_kill_to_restart_p50_s", "rolling: kill to restart p50 (s)"),
                       ("rolling_back_p50_s", "rolling: back alive everywhere p50 (s)"),
                       ("rolling_back_max_s", "rolling: back alive everywhere max (s)"),
                       ("rolling_back_missing", "rolling: restarts never back everywhere"),
                       ("stalls", "stalls injected"),
                       ("cpu_s_per_agent_process", "CPU per agent process (s)"),
                       ("cpu_cores_all_agents", "CPU of all agents together (cores)"),
                       ("poll_period_p50_s", "observation: poll period p50 (s)"),
                       ("poll_period_p99_s", "observation: poll period p99 (s)")):
        if key in fig:
            rows.append((label, fig[key]))
    return rows


def table(figs, names):
    out = ["| metric | " + " | ".join(names) + (" | Colony ÷ Serf |" if names == ["colony", "serf"] else " |"),
           "|---|" + "---|" * len(names) + ("---|" if names == ["colony", "serf"] else "")]
    cols = [dict(rows_for(figs[n])) for n in names]
    labels = []
    for n in names:
        labels += [label for label, _ in rows_for(figs[n]) if label not in labels]
    for label in labels:
        vals = [c.get(label) for c in cols]
        line = f"| {label} | " + " | ".join(fmt(v) for v in vals) + " |"
        if names == ["colony", "serf"]:
            c, s = vals
            ok = isinstance(c, (int, float)) and isinstance(s, (int, float)) and "false deaths" not in label
            line += (f" {c / s:.2f} |" if ok and s else " — |")
        out.append(line)
    return "\n".join(out)


def aggregate(runs, names):
    """Over several runs: medians of times, sums of false deaths."""
    agg = {}
    for n in names:
        figs = [r[n] for r in runs]
        a = {}
        for key in ("converge_s", "agents_up_s", "converge_after_last_up_s", "kill_first_s", "kill_all_s",
                    "partition_seen_by_all_s", "heal_s", "recover_s",
                    "rolling_back_p50_s", "rolling_back_max_s", "poll_period_p50_s", "poll_period_p99_s"):
            if key in figs[0]:
                vals = [f[key] for f in figs if f.get(key) is not None]
                a[key] = statistics.median(vals) if len(vals) == len(figs) else None
        fd = {"transitions": sum(f["false_deaths"]["transitions"] for f in figs),
              "pairs": sum(f["false_deaths"]["pairs"] for f in figs),
              "members": sum(f["false_deaths"]["members"] for f in figs),
              "unresolved": sum(f["false_deaths"]["unresolved"] for f in figs),
              "longest_s": max((f["false_deaths"]["longest_s"] for f in figs
                                if f["false_deaths"]["longest_s"] is not None), default=None)}
        a["false_deaths"] = fd
        a["runs_with_false_deaths"] = sum(1 for f in figs if f["false_deaths"]["transitions"])
        agg[n] = a
    return agg


def timeline_text(run, names):
    lines = []
    deaths = {}
    for n in names:
        for d in run.figures[n]["deaths"]:
            deaths[(n, round(d["t"], 6), d["observer"], d["member"])] = d["kind"]
    items = [(t, 0, f"{t:9.3f}  ---- {text}") for t, text in run.faults]
    for t, s, o, m, old, new in run.events:
        if new is None and old is not None and run.truth.is_down(s, host_of(o), t + 1e-9):
            # an agent's own view dropped because it was killed
            continue
        kind = deaths.get((s, round(t, 6), o, m))
        tag = ""
        if kind == "false":
            tag = "   << FALSE DEATH"
        elif kind:
            tag = f"   ({kind})"
        items.append((t, 1, f"{t:9.3f}  {s:<6} {o:>4} sees {m:<4} {old or '-'} -> {new or '-'}{tag}"))
    items.sort(key=lambda x: (x[0], x[1]))
    return "\n".join(x[2] for x in items)


# ---------------------------------------------------------------------------------------
# Main

SCENARIO_DEFAULTS = {  # loss %, duration s
    "loss": (10, 30), "gray": (60, 60), "oneway": (80, 60), "flipflop": (100, 80), "partition": (None, 20),
    "stall": (None, 30), "kill": (None, 30), "rolling": (None, None), "converge": (None, 10),
}


def parse():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", choices=sorted(SCENARIO_DEFAULTS), default="loss")
    ap.add_argument("--k", type=int, default=5, help="hosts (3 to 50; each runs one agent of every system)")
    ap.add_argument("--loss", type=float, help="loss percent per hook (loss 10, gray 60, oneway 80, flipflop 100)")
    ap.add_argument("--direction", choices=("in", "out", "both"), default="both",
                    help="hooks the loss applies to (loss, gray)")
    ap.add_argument("--duration", type=float, help="seconds the fault lasts (kill: time allowed for detection)")
    ap.add_argument("--period", type=float, default=20, help="flipflop: seconds on, then seconds off")
    ap.add_argument("--split", help="partition: group sizes in host order, e.g. 2 or 2,3 (default K/2 | rest)")
    ap.add_argument("--target", type=int,
                    help="host number under a targeted fault (gray, oneway, flipflop, stall, kill)")
    ap.add_argument("--targets", type=int, default=1, help="stall: how many hosts to stall together")
    ap.add_argument("--stall-min", type=float, default=1.0)
    ap.add_argument("--stall-max", type=float, default=2.0)
    ap.add_argument("--gap-min", type=float, default=2.0, help="stall: seconds between stalls, at least")
    ap.add_argument("--gap-max", type=float, default=4.0)
    ap.add_argument("--down", type=float,
                    help="rolling: restart after this many seconds (default: once every survivor sees it dead)")
    ap.add_argument("--down-max", type=float, default=30, help="rolling: restart after this long at most")
    ap.add_argument("--rolling-count", type=int, help="rolling: restart only the first N hosts")
    ap.add_argument("--back-timeout", type=float, default=60)
    ap.add_argument("--gap", type=float, default=2, help="rolling: seconds between one host back and the next kill")
    ap.add_argument("--systems", default="colony,serf")
    ap.add_argument("--colony", default=".build/release/colony")
    ap.add_argument("--serf", default=shutil.which("serf") or "serf")
    ap.add_argument("--colony-arg", action="append", default=[],
                    help="extra colony agent argument (repeatable), e.g. --colony-arg=--no-hive")
    ap.add_argument("--serf-arg", action="append", default=[], help="extra serf agent argument (repeatable)")
    ap.add_argument("--log-level", default="info", help="agents' log level (logs are kept with --keep)")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1, help="chooses targets, victims and stall lengths")
    ap.add_argument("--poll", type=float, default=0.15, help="seconds between two polls of one agent")
    ap.add_argument("--no-hive-poll", dest="hive_poll", action="store_false",
                    help="do not poll Colony's /v1/hive once a second (hive churn figures)")
    ap.add_argument("--settle", type=float, default=5, help="seconds of calm between convergence and the fault")
    ap.add_argument("--jitter", type=float, default=10,
                    help="partition: up to this many seconds (uniform, from --seed) added before the cut and to "
                         "its length, so cut and heal fall at random phases of the agents' periodic work")
    ap.add_argument("--grace", type=float, default=10,
                    help="seconds after a kill or a heal in which deaths are expected")
    ap.add_argument("--tail", type=float, default=3, help="seconds observed after recovery")
    ap.add_argument("--converge-timeout", type=float, default=120)
    ap.add_argument("--recover-timeout", type=float, default=60)
    ap.add_argument("--heal-timeout", type=float, default=120)
    ap.add_argument("--json", help="write config, figures and every event here")
    ap.add_argument("--timeline", help="write the text timeline here (default: beside --json)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (agents' logs and data)")
    ap.add_argument("--fail-on-false-death", action="store_true",
                    help="exit 1 on any Colony false death or missed heal")
    ap.add_argument("--cleanup", action="store_true", help="remove what dead runs left behind, then exit")
    a = ap.parse_args()
    dl, dd = SCENARIO_DEFAULTS[a.scenario]
    if a.loss is None:
        a.loss = dl
    if a.duration is None:
        a.duration = dd
    return a


class Interrupted(BaseException):
    pass


def main():
    a = parse()
    if os.geteuid() != 0:
        sys.exit("netharness: needs root (network namespaces, nftables)")
    if a.cleanup:
        cleanup_dead_runs()
        return 0
    for tool in ("ip", "nft"):
        if shutil.which(tool) is None:
            sys.exit(f"netharness: {tool} not found (apt-get install iproute2 nftables)")
    names = [s.strip() for s in a.systems.split(",") if s.strip()]
    if not names or any(n not in ("colony", "serf") for n in names):
        sys.exit("--systems: colony, serf or both")
    if not 2 <= a.k <= 250:
        sys.exit("--k: 2 to 250 (the issue asks for 3 to 50)")
    if "colony" in names and not os.access(a.colony, os.X_OK):
        sys.exit(f"colony binary not found: {a.colony} (build it, or pass --colony)")
    if "serf" in names:
        if not (os.access(a.serf, os.X_OK) or shutil.which(a.serf)):
            sys.exit(f"serf not found: {a.serf}")
        if msgpack is None:
            sys.exit("python3-msgpack is needed for Serf's RPC")
    binaries = {"colony": os.path.abspath(a.colony), "serf": shutil.which(a.serf) or os.path.abspath(a.serf)}

    def on_signal(sig, frame):
        raise Interrupted(signal.Signals(sig).name)

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)

    stale = [ns for ns in list_netns() if NS_RE.match(ns) and not creator_alive(int(NS_RE.match(ns).group(1)))]
    if stale:
        print(f"note: {len(stale)} namespaces of dead runs are left over; `{sys.argv[0]} --cleanup` removes them")
    state = State(os.getpid())
    work = tempfile.mkdtemp(prefix=f"{PREFIX}-{os.getpid()}-")
    state.set("workdir", work)
    token = "netharness-" + secrets.token_hex(12)
    rng = random.Random(a.seed)
    net = Network(a.k, state)
    results, runs = [], []
    status = 0
    try:
        print(f"netharness: {a.scenario}, K={a.k}, systems {','.join(names)}, run prefix {PREFIX}-{os.getpid()}",
              flush=True)
        net.create()
        print(f"network: bridge in {net.br}, hosts {net.addr(1)}..{net.addr(a.k)}, observer {net.subnet}.254",
              flush=True)
        for r in range(a.runs):
            run_dir = os.path.join(work, f"run{r + 1}")
            systems = [System(n, binaries[n], a.colony_arg if n == "colony" else a.serf_arg, a.log_level, net,
                              run_dir, token) for n in names]
            for s in systems:
                os.makedirs(os.path.join(run_dir, s.name), exist_ok=True)
            os.makedirs(os.path.join(run_dir, "logs"), exist_ok=True)
            run = Run(a, net, systems, rng, r + 1)
            print(f"run {r + 1}/{a.runs}", flush=True)
            try:
                run.converge()
                run.sleep(a.settle)
                getattr(run, f"sc_{a.scenario}")()
            finally:
                run.marks["end"] = run.now()
                run.harness_cpu_s = sum(os.times()[:2]) - run.cpu0
                run.stop.set()
                for s in systems:
                    s.stop_all()
                try:
                    net.apply()
                except RuntimeError:
                    pass
            run.analyse()
            runs.append(run)
            results.append({n: run.figures[n] for n in names})
            print()
            print(table(run.figures, names), flush=True)
            print(f"\nthe harness itself used {run.harness_cpu_s:.1f} CPU s over {run.marks['end']:.0f} s")
            for n in names:
                why = run.failed(n)
                if why:
                    print(f"{n}: " + "; ".join(why))
            time.sleep(1)
        if a.runs > 1:
            agg = aggregate(results, names)
            print(f"\nOver {a.runs} runs (times: median of the runs; false deaths: sums):")
            print("| metric | " + " | ".join(names) + " |\n|---|" + "---|" * len(names))
            keys = [k for k in agg[names[0]] if k not in ("false_deaths",)]
            for k in ["false_deaths.transitions", "false_deaths.pairs", "false_deaths.members"] + keys:
                if "." in k:
                    k1, k2 = k.split(".")
                    vals = [agg[n][k1][k2] for n in names]
                else:
                    vals = [agg[n].get(k) for n in names]
                print(f"| {k} | " + " | ".join(fmt(v) for v in vals) + " |")
        out = a.json or os.path.join(tempfile.gettempdir(), "colony-netharness-results",
                                     f"{a.scenario}-k{a.k}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.json")
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
        tl = a.timeline or (out[:-5] if out.endswith(".json") else out) + ".timeline.txt"
        doc = {"config": {k: v for k, v in vars(a).items() if k not in ("cleanup",)},
               "network": {"subnet": f"{net.subnet}.0/24", "hosts": {name(i): net.addr(i) for i in net.hosts}},
               "status_meaning": {"colony": "alive | suspect | dead | left", "serf": "alive | failed | leaving | left"},
               "runs": []}
        doc["config"]["colony"] = os.path.basename(a.colony)
        with open(tl, "w") as f:
            for run in runs:
                f.write(f"=== run {run.index}: {a.scenario}, K={a.k}\n")
                f.write(timeline_text(run, names) + "\n")
                doc["runs"].append({
                    "run": run.index,
                    "harness_cpu_s": run.harness_cpu_s,
                    "faults": [{"t": t, "what": w} for t, w in run.faults],
                    "truth": {"killed": {f"{s}/{name(h)}": v for (s, h), v in run.truth.down.items()},
                              "stalled": {name(h): v for h, v in run.truth.stalls.items()},
                              "partitions": [{"from": p[0], "healed": p[1],
                                              "groups": [[name(h) for h in g] for g in p[2]]}
                                             for p in run.truth.partitions],
                              "targets": [name(h) for h in sorted(run.truth.targets)]},
                    "figures": run.figures,
                    "events": [{"t": round(t, 4), "system": s, "observer": o, "member": m, "from": old, "to": new}
                               for t, s, o, m, old, new in run.events],
                })
        with open(out, "w") as f:
            json.dump(doc, f, indent=1)
        print(f"\nevents and figures: {out}\ntimeline: {tl}")
        if a.keep:
            print(f"work directory kept: {work}")
        if a.fail_on_false_death and "colony" in names:
            bad = [f"run {run.index}: " + "; ".join(run.failed("colony")) for run in runs if run.failed("colony")]
            if bad:
                print("FAIL (colony): " + " | ".join(bad))
                status = 1
    except Interrupted as e:
        print(f"\nnetharness: interrupted ({e}); cleaning up", file=sys.stderr)
        status = 130
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        if a.keep:
            state.data["workdir"] = None
        teardown(state.data, log=lambda s: None)
        try:
            os.remove(state.path)
        except OSError:
            pass
    return status


if __name__ == "__main__":
    sys.exit(main())
