#!/usr/bin/env python3
"""Replicated-state benchmarks on real agents (issue #4), recorded in docs/benchmarks.md.

1. Sustained writes: 5 agents on loopback; W writer threads PUT small values round-robin
   through all agents for D seconds. Every agent's event log (/v1/log, SSE) is followed, so
   each write's arrival at each agent is timed. Reports acknowledged writes/s and the
   convergence lag (acknowledgement -> present on every agent) p50/p99/max.
2. Catch-up: 10 MB (160 values of 64 KiB) written, then a sixth agent joins; reports the time
   from its HTTP API answering to holding exactly the same state (equal digests).

Usage: scripts/state_bench.py [--colony .build/release/colony] [--seconds 10] [--writers 8]
"""
import argparse, http.client, json, os, secrets, shutil, signal, subprocess, sys, tempfile, threading, time

def pct(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(p * len(s) + 0.5)) - 1))
    return s[k]

class Swarm:
    def __init__(self, binary, base, work, profile):
        self.binary, self.base, self.work, self.profile = binary, base, work, profile
        self.procs = {}
        # Every agent's API wants a bearer token (issue 18): one for the whole swarm.
        self.token = secrets.token_hex(32)
        self.auth = {"Authorization": f"Bearer {self.token}"}

    def http(self, i):
        return self.base + i

    def start(self, i, join=True):
        args = [self.binary, "agent", "--name", f"b{i}", "--bind", f"127.0.0.1:{self.base + 20 + i}",
                "--http", f"127.0.0.1:{self.http(i)}", "--data-dir", os.path.join(self.work, f"b{i}"),
                "--profile", self.profile, "--log-level", "warning", "--http-token", self.token]
        if join and i > 0:
            args += ["--join", f"127.0.0.1:{self.base + 20}"]
        self.procs[i] = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def get(self, i, path, timeout=5):
        c = http.client.HTTPConnection("127.0.0.1", self.http(i), timeout=timeout)
        try:
            c.request("GET", path, headers=self.auth)
            r = c.getresponse()
            return r.status, r.read()
        finally:
            c.close()

    def state(self, i):
        try:
            s, b = self.get(i, "/v1/state", timeout=2)
            return json.loads(b) if s == 200 else None
        except OSError:
            return None

    def alive(self, i):
        try:
            s, b = self.get(i, "/v1/members?status=alive", timeout=2)
            return len(json.loads(b)) if s == 200 else 0
        except OSError:
            return 0

    def stop(self):
        for p in self.procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
        for p in self.procs.values():
            p.wait()

def follow(swarm, i, start, arrivals, stop):
    """Record the first arrival time of every key-kind log entry at agent i."""
    c = http.client.HTTPConnection("127.0.0.1", swarm.http(i), timeout=3600)
    c.request("GET", f"/v1/log?from={start}", headers=swarm.auth)
    r = c.getresponse()
    event = None
    while not stop.is_set():
        line = r.readline()
        if not line:
            break
        line = line.decode().rstrip("\n")
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: ") and event == "key":
            now = time.monotonic()
            key = json.loads(line[6:])["subject"]
            arrivals.setdefault(key, now)

def writer(swarm, t, n_agents, until, acks, value):
    conns = [http.client.HTTPConnection("127.0.0.1", swarm.http(i), timeout=10) for i in range(n_agents)]
    n = 0
    while time.monotonic() < until:
        i = (t + n) % n_agents
        key = f"bench/{t}/{n}"
        try:
            conns[i].request("PUT", "/v1/kv/" + key, body=value, headers=swarm.auth)
            r = conns[i].getresponse()
            r.read()
            if r.status == 200:
                acks[key] = time.monotonic()
        except OSError:
            conns[i] = http.client.HTTPConnection("127.0.0.1", swarm.http(i), timeout=10)
        n += 1

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--colony", default=".build/release/colony")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--writers", type=int, default=8)
    ap.add_argument("--profile", default="local")
    ap.add_argument("--base", type=int, default=24000)
    ap.add_argument("--catchup-mb", type=float, default=10)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="colony-state-bench-")
    swarm = Swarm(os.path.abspath(a.colony), a.base, work, a.profile)
    n = 5
    try:
        for i in range(n):
            swarm.start(i)
        deadline = time.time() + 30
        while time.time() < deadline and not all(swarm.alive(i) == n for i in range(n)):
            time.sleep(0.2)
        assert all(swarm.alive(i) == n for i in range(n)), "agents did not converge"
        stop = threading.Event()
        arrivals = [dict() for _ in range(n)]
        followers = []
        for i in range(n):
            start = swarm.state(i)["logOffset"] + 1
            th = threading.Thread(target=follow, args=(swarm, i, start, arrivals[i], stop), daemon=True)
            th.start()
            followers.append(th)
        time.sleep(0.5)
        acks = {}
        value = b"x" * 100
        until = time.monotonic() + a.seconds
        ws = [threading.Thread(target=writer, args=(swarm, t, n, until, acks, value)) for t in range(a.writers)]
        t0 = time.monotonic()
        for w in ws:
            w.start()
        for w in ws:
            w.join()
        elapsed = time.monotonic() - t0
        # Wait for replication to finish (bounded).
        end = time.monotonic() + 60
        while time.monotonic() < end and not all(len([k for k in acks if k in arrivals[i]]) == len(acks) for i in range(n)):
            time.sleep(0.2)
        lags = []
        missing = 0
        for k, t_ack in acks.items():
            ts = [arrivals[i].get(k) for i in range(n)]
            if any(t is None for t in ts):
                missing += 1
                continue
            lags.append(max(0.0, max(ts) - t_ack) * 1000)
        digests = {swarm.state(i)["digest"] for i in range(n)}
        print(f"sustained: {len(acks)} acknowledged writes in {elapsed:.1f} s = {len(acks) / elapsed:.0f} writes/s "
              f"({a.writers} writers, 5 agents, profile {a.profile}); convergence lag p50 {pct(lags, 0.5):.0f} ms, "
              f"p99 {pct(lags, 0.99):.0f} ms, max {max(lags) if lags else float('nan'):.0f} ms; "
              f"{missing} writes missing somewhere; {len(digests)} distinct digest(s)")
        stop.set()

        # Catch-up: 10 MB then a sixth agent joins.
        count = int(a.catchup_mb * 1024 * 1024 / 65536)
        big = os.urandom(65536)
        c = http.client.HTTPConnection("127.0.0.1", swarm.http(0), timeout=30)
        for k in range(count):
            c.request("PUT", f"/v1/kv/big/{k}", body=big, headers=swarm.auth)
            r = c.getresponse()
            r.read()
            assert r.status == 200, r.status
        end = time.monotonic() + 60
        while time.monotonic() < end and len({swarm.state(i)["digest"] for i in range(n)}) != 1:
            time.sleep(0.1)
        target = swarm.state(0)
        spawned = time.monotonic()
        swarm.start(n)
        ready = None
        caught = None
        end = time.monotonic() + 60
        while time.monotonic() < end:
            s = swarm.state(n)
            now = time.monotonic()
            if s is not None and ready is None:
                ready = now
            if s is not None and s["digest"] == target["digest"]:
                caught = now
                break
            time.sleep(0.01)
        if caught is None:
            print(f"catch-up: FAILED: the new agent did not reach the same state within 60 s")
            sys.exit(1)
        print(f"catch-up: {target['bytes'] / 1e6:.1f} MB ({target['records']} records) in {(caught - ready) * 1000:.0f} ms "
              f"from the new agent's API answering ({(caught - spawned) * 1000:.0f} ms from process spawn)")
    finally:
        swarm.stop()
        shutil.rmtree(work, ignore_errors=True)

if __name__ == "__main__":
    main()
