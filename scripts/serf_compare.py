#!/usr/bin/env python3
"""Colony and HashiCorp Serf side by side on loopback, in one run.

For each swarm size N, for each system (same timing profile, `local`):
  bootstrap  - start a seed, then N-1 agents at once that all join through it; time until
               every agent sees all N members alive.
  detection  - kill -9 one agent; time until every survivor marks it failed/dead.
  cost       - CPU seconds (user+sys) and peak RSS per agent over the whole run, and private
               (anonymous) memory at the end: RSS also counts the pages of shared libraries
               and of the executable, which every agent on a host shares.
Members are read over each system's own API (Colony: HTTP /v1/members; Serf: its msgpack
RPC `members`), about a millisecond per query for both, polled every 50 ms.

Usage: scripts/serf_compare.py [--sizes 10,50] [--colony .build/release/colony] [--serf serf]
Needs: serf (apt-get install serf), python3-msgpack or `pip install msgpack`.
"""
import argparse, json, os, random, secrets, shutil, signal, socket, subprocess, sys, tempfile, time, urllib.request
from concurrent.futures import ThreadPoolExecutor

import msgpack

CLK = os.sysconf("SC_CLK_TCK")


def proc_cost(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            parts = f.read().rsplit(")", 1)[1].split()
        cpu = (int(parts[11]) + int(parts[12])) / CLK
        rss = anon = 0
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    rss = int(line.split()[1]) * 1024
                elif line.startswith("RssAnon:"):
                    anon = int(line.split()[1]) * 1024
        return cpu, rss, anon
    except OSError:
        return None


class Colony:
    name = "colony"

    def __init__(self, binary, base, work):
        self.binary, self.base, self.work = binary, base, work
        # Every agent's API wants a bearer token (issue 18): one for all of them.
        self.token = secrets.token_hex(32)

    def start(self, i, seed):
        logdir = os.environ.get("COLONY_LOG_DIR")
        args = [self.binary, "agent", "--name", f"c{i}", "--bind", f"127.0.0.1:{self.base + 1000 + i}",
                "--http", f"127.0.0.1:{self.base + i}", "--http-token", self.token, "--profile", "local", "--log-level", "debug" if logdir else "error"]
        if seed is not None:
            args += ["--join", f"127.0.0.1:{self.base + 1000 + seed}"]
        err = open(os.path.join(logdir, f"c{i}.log"), "w") if logdir else subprocess.DEVNULL
        return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=err)

    def members(self, i):
        request = urllib.request.Request(f"http://127.0.0.1:{self.base + i}/v1/members",
                                         headers={"Authorization": f"Bearer {self.token}"})
        with urllib.request.urlopen(request, timeout=2) as r:
            return {m["name"]: m["status"] for m in json.load(r)}

    def node(self, i):
        return f"c{i}"

    failed = "dead"


class Serf:
    name = "serf"

    def __init__(self, binary, base, work):
        self.binary, self.base, self.work = binary, base, work
        self.socks = {}

    def start(self, i, seed):
        args = [self.binary, "agent", f"-node=s{i}", f"-bind=127.0.0.1:{self.base + 1000 + i}",
                f"-rpc-addr=127.0.0.1:{self.base + i}", "-profile=local", "-log-level=err"]
        if seed is not None:
            args.append(f"-join=127.0.0.1:{self.base + 1000 + seed}")
        return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def _rpc(self, i):
        s = self.socks.get(i)
        if s is None:
            s = socket.create_connection(("127.0.0.1", self.base + i), timeout=2)
            s.sendall(msgpack.packb({"Command": "handshake", "Seq": 0}) + msgpack.packb({"Version": 1}))
            u = msgpack.Unpacker(raw=False)
            self._read(s, u, 1)
            self.socks[i] = s = (s, u)
        return s

    def _read(self, s, u, count):
        out = []
        while len(out) < count:
            for obj in u:
                out.append(obj)
                if len(out) == count:
                    return out
            data = s.recv(65536)
            if not data:
                raise OSError("closed")
            u.feed(data)
        return out

    def members(self, i):
        try:
            s, u = self._rpc(i)
            s.sendall(msgpack.packb({"Command": "members", "Seq": 1}))
            header, body = self._read(s, u, 2)
            return {m["Name"]: m["Status"] for m in body["Members"]}
        except OSError:
            self.socks.pop(i, None)
            raise

    def node(self, i):
        return f"s{i}"

    failed = "failed"


def wait_ready(system, i, deadline):
    while time.time() < deadline:
        try:
            system.members(i)
            return True
        except Exception:
            time.sleep(0.02)
    return False


def poll_until(system, agents, predicate, timeout):
    """Seconds until predicate(members of agent i) holds for every agent in `agents`."""
    start = time.time()
    pending = set(agents)
    done_at = {}
    with ThreadPoolExecutor(max_workers=16) as pool:
        while pending and time.time() - start < timeout:
            def check(i):
                try:
                    return i, predicate(system.members(i))
                except Exception:
                    return i, False
            for i, ok in pool.map(check, sorted(pending)):
                if ok:
                    pending.discard(i)
                    done_at[i] = time.time() - start
            if pending:
                time.sleep(0.05)
    return (max(done_at.values()) if not pending else None), done_at


def run(system, n, timeout):
    procs = {}
    try:
        procs[0] = system.start(0, None)
        if not wait_ready(system, 0, time.time() + 20):
            return {"error": "seed did not start"}
        t0 = time.time()
        for i in range(1, n):
            procs[i] = system.start(i, 0)
        for i in range(1, n):
            wait_ready(system, i, time.time() + 20)
        names = {system.node(i) for i in range(n)}
        ready = time.time() - t0
        boot, _ = poll_until(system, range(n), lambda m: all(m.get(x) == "alive" for x in names), timeout)
        # Measured from the moment the joiners were launched.
        boot = None if boot is None else boot + ready
        # Detection: kill -9 one agent (not the seed).
        time.sleep(2)
        victim = random.Random(n).randrange(1, n)
        os.kill(procs[victim].pid, signal.SIGKILL)
        procs[victim].wait()
        survivors = [i for i in range(n) if i != victim]
        vname = system.node(victim)
        detect, _ = poll_until(system, survivors, lambda m: m.get(vname) == system.failed, timeout)
        costs = [proc_cost(p.pid) for i, p in procs.items() if i != victim]
        costs = [c for c in costs if c]
        return {
            "bootstrap_s": boot, "detection_s": detect,
            "cpu_s_per_agent": sum(c[0] for c in costs) / len(costs),
            "peak_rss_mb_per_agent": sum(c[1] for c in costs) / len(costs) / 1e6,
            "private_mb_per_agent": sum(c[2] for c in costs) / len(costs) / 1e6,
        }
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
        for p in procs.values():
            p.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10,50")
    ap.add_argument("--colony", default=".build/release/colony")
    ap.add_argument("--serf", default=shutil.which("serf") or "serf")
    ap.add_argument("--timeout", type=float, default=120)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="colony-vs-serf-")
    rows = []
    for n in [int(x) for x in a.sizes.split(",")]:
        for cls, binary, base in [(Colony, a.colony, 21000), (Serf, a.serf, 24000)]:
            r = run(cls(binary, base, work), n, a.timeout)
            r.update({"system": cls.name, "n": n})
            rows.append(r)
            print(json.dumps(r), flush=True)
            time.sleep(2)
    print()
    print("| N | metric | Colony | Serf | Colony ÷ Serf |")
    print("|---|---|---|---|---|")
    for n in sorted({r["n"] for r in rows}):
        c = next(r for r in rows if r["n"] == n and r["system"] == "colony")
        s = next(r for r in rows if r["n"] == n and r["system"] == "serf")
        for key, label in [("bootstrap_s", "bootstrap: all see all (s)"), ("detection_s", "detection: all mark the killed agent (s)"),
                           ("cpu_s_per_agent", "CPU per agent (s)"), ("peak_rss_mb_per_agent", "peak RSS per agent (MB)"),
                           ("private_mb_per_agent", "private memory per agent at the end (MB)")]:
            cv, sv = c.get(key), s.get(key)
            ratio = f"{cv / sv:.2f}" if cv is not None and sv else "—"
            fmt = lambda v: "did not finish" if v is None else f"{v:.2f}"
            print(f"| {n} | {label} | {fmt(cv)} | {fmt(sv)} | {ratio} |")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
