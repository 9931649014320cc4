"""Casebook's benchmarks: `python -m dashboard.bench [--quick]` (`make bench`).

Measures the performance model of DESIGN §5 against the sandbox Talkdesk on loopback, each
figure beside a baseline taken in the same run, and writes `docs/benchmarks.md`:

1. fragment overhead: the /cases/ htmx fragment against a raw GET of the same upstream page;
2. concurrency: 50 simulated users against gunicorn gthread at 100 and 200 ms upstream latency;
3. export of 100,000 cases: time against the ideal, and the worker's peak memory growth;
4. page weight: compressed bytes of the first full load (HTML, CSS, JS) and of a fragment;
5. cache: a repeated identical query against the first.

Everything is set up here: a temporary SQLite database (migrated), a user connected to the
sandbox with a session cookie, the sandboxes, each in its own process (`serve-sandbox` below,
the same `start()` as `manage.py sandbox`, so it does not share a GIL with the server or the
load generator), and gunicorn with the README's production configuration. The load generator
is wrk when it is installed (C, so it costs the two cores little), else Python processes.
Every process started here is stopped here, and all traffic stays on 127.0.0.1.

This module imports nothing from Django at import time: the sandbox child must not need it.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import multiprocessing
import os
import platform
import re
import resource
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
GUNICORN = str(Path(PYTHON).with_name("gunicorn"))
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
BROWSER_ENCODING = "gzip, deflate, br"
CASES_PATH = "/cm/core/va/cases"
EXPORT_WORKERS = 4  # dashboard.views.export.EXPORT_WORKERS, without importing Django here
EXPORT_PER_PAGE = 500
GLIBC_FIXED_MMAP = {"MALLOC_MMAP_THRESHOLD_": "131072"}
LAST_LOG: list[str] = []  # gunicorn's log, shown when a run fails


@dataclass(frozen=True)
class Plan:
    """How big a run is: the default proves the goals, --quick only shows that it all works."""

    fragment_samples: int
    users: int
    duration: float
    latencies: tuple[int, ...]
    cache_samples: int
    export_cases: int
    export_latency: int
    threads: int
    workers: int
    profile_samples: int
    extra_threads: int  # a second concurrency run with this many threads per worker; 0: none


FULL = Plan(
    fragment_samples=60,
    users=50,
    duration=20,
    latencies=(100, 200),
    cache_samples=15,
    export_cases=100_000,
    export_latency=100,
    threads=16,
    workers=2,
    profile_samples=40,
    extra_threads=32,
)
QUICK = Plan(
    fragment_samples=10,
    users=50,
    duration=4,
    latencies=(100,),
    cache_samples=4,
    export_cases=10_000,
    export_latency=100,
    threads=16,
    workers=2,
    profile_samples=5,
    extra_threads=0,
)


# --- processes -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def children_of(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            found += [int(child) for child in (task / "children").read_text().split()]
    return found


def memory_kib(pid: int, key: str) -> int:
    """VmRSS, VmHWM (peak RSS) … of a process, in KiB, from /proc/<pid>/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def machine_busy_seconds() -> float:
    """CPU seconds all processes on the machine have used since boot (/proc/stat)."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(
        int, Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
    )
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


def wait_for_quiet(max_wait: float, threshold: float = 0.1) -> float:
    """Wait (up to `max_wait` s) until the machine is nearly idle; returns the busy share seen
    last. Other work on the same cores (a test suite, a build) would distort every figure."""
    deadline = time.monotonic() + max_wait
    while True:
        before = machine_busy_seconds()
        time.sleep(2)
        busy = (machine_busy_seconds() - before) / (2 * (os.cpu_count() or 1))
        if busy < threshold or time.monotonic() > deadline:
            return busy
        log(f"the machine is {busy:.0%} busy with other work; waiting for it to settle…")


def own_cpu_seconds() -> float:
    """This process and its finished (waited-for) children."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime + finished_children_cpu()


def finished_children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def stop_process(process: subprocess.Popen[Any], *, grace: float = 10.0) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class SandboxProcess:
    """The sandbox Talkdesk in a child process, driven over its stdin."""

    def __init__(self, cases: int, latency_ms: int, log: Path) -> None:
        self.cases = cases
        self._log = log.open("ab")
        self.process = subprocess.Popen(
            [PYTHON, "-m", "dashboard.bench", "serve-sandbox", str(cases), str(latency_ms)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            # A load generator closing its connections mid-answer makes the sandbox print
            # BrokenPipe tracebacks: kept out of the report's console.
            stderr=self._log,
            text=True,
        )
        self.info: dict[str, Any] = {}

    def ready(self) -> SandboxProcess:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the sandbox process did not start")
        self.info = json.loads(line)
        return self

    @property
    def base_url(self) -> str:
        url: str = self.info["base_url"]
        return url

    @property
    def tokens(self) -> dict[str, Any]:
        tokens: dict[str, Any] = self.info["tokens"]
        return tokens

    def set_latency(self, latency_ms: int) -> None:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(f"latency {latency_ms}\n")
        self.process.stdin.flush()
        if self.process.stdout.readline().strip() != "ok":
            raise RuntimeError("the sandbox did not take the new latency")

    def stop(self) -> None:
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            stop_process(self.process)
        self._log.close()


def serve_sandbox(cases: int, latency_ms: int) -> None:
    """The child: serve, print the base URL and a long-lived token set, obey stdin until EOF."""
    from dashboard.sandbox import server

    # Python's default listen backlog of 5 drops the SYNs of 50 connections opened at once
    # (each then waits a second for the retry); a real load balancer accepts them all.
    server._Server.request_queue_size = 512
    sandbox = server.start(
        port=0, cases=cases, latency_ms=latency_ms, token_ttl=86_400, record_requests=False
    )
    try:
        info = {
            "base_url": sandbox.base_url,
            "client_id": sandbox.client_id,
            "client_secret": sandbox.client_secret,
            "tokens": sandbox.issue_tokens(ttl=86_400),
        }
        print(json.dumps(info), flush=True)
        for line in sys.stdin:
            command, _, value = line.strip().partition(" ")
            if command == "latency":
                sandbox.latency_ms = int(value)
                print("ok", flush=True)
    finally:
        sandbox.stop()


class Gunicorn:
    """Casebook under gunicorn gthread, as the README runs it in production."""

    def __init__(self, env: dict[str, str], *, workers: int, threads: int, log: Path) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        self.threads = threads
        self.command = [
            GUNICORN, "dashboard.wsgi", "--worker-class", "gthread",
            "--workers", str(workers), "--threads", str(threads), "--timeout", "60",
            "--bind", f"127.0.0.1:{self.port}",
        ]  # fmt: skip
        self._path = log
        self._log = log.open("ab")
        self.process = subprocess.Popen(
            self.command, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{self.base_url}/healthz", timeout=2).status_code == 200:
                    break
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not start; see {log}")
            time.sleep(0.2)
        # Every worker has answered /healthz only once its imports are done; wait for all.
        while len(children_of(self.process.pid)) < workers:
            time.sleep(0.1)

    @property
    def pids(self) -> list[int]:
        return [self.process.pid, *children_of(self.process.pid)]

    def cpu(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.pids)

    def stop(self) -> None:
        stop_process(self.process)
        self._log.close()
        LAST_LOG.append(self._path.read_text(errors="replace"))

    @property
    def description(self) -> str:
        return " ".join(["gunicorn", *self.command[1:-2]])


# --- the Django side: database, user, tokens, session ---------------------------------------


def base_env(workdir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        ENV_FILE="",
        DJANGO_SETTINGS_MODULE="dashboard.settings",
        DEBUG="false",
        SECURE_SSL_REDIRECT="false",
        SECURE_COOKIES="false",
        SECURE_HSTS_SECONDS="0",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        DATABASE_URL=f"sqlite:///{workdir / 'bench.sqlite3'}",
        LOG_LEVEL="WARNING",
        CACHE_URL="locmemcache://casebook",
    )
    env.setdefault("SECRET_KEY", secrets.token_hex(32))
    if not env.get("TOKEN_ENCRYPTION_KEYS"):
        from cryptography.fernet import Fernet

        env["TOKEN_ENCRYPTION_KEYS"] = Fernet.generate_key().decode()
    return env


def talkdesk_env(env: dict[str, str], sandbox: SandboxProcess) -> dict[str, str]:
    return env | {
        "TALKDESK_API_URL": sandbox.base_url,
        "TALKDESK_AUTH_URL": sandbox.base_url,
        "TALKDESK_CLIENT_ID": sandbox.info["client_id"],
        "TALKDESK_CLIENT_SECRET": sandbox.info["client_secret"],
    }


def prepare_database(env: dict[str, str]) -> None:
    subprocess.run([PYTHON, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    # Into the project's staticfiles/ as `make test` does; unchanged files are skipped.
    subprocess.run(
        [PYTHON, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
    )


def setup_django(env: dict[str, str]) -> None:
    os.environ.update(env)
    import django

    django.setup()


def connect_bench_user(tokens: dict[str, Any]) -> tuple[str, str]:
    """The bench user, connected with `tokens`; returns the session cookie (name, value)."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.models import User
    from django.contrib.sessions.backends.cached_db import SessionStore

    from dashboard.connection import store_tokens
    from dashboard.models import TalkdeskConnection
    from dashboard.talkdesk.models import parse_token_response

    user, _ = User.objects.get_or_create(username="bench", defaults={"first_name": "Bench"})
    connection, _ = TalkdeskConnection.objects.get_or_create(user=user)
    connection.connected_at = datetime.now(UTC)
    store_tokens(connection, parse_token_response(tokens, now=datetime.now(UTC)))
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    assert session.session_key is not None
    return settings.SESSION_COOKIE_NAME, session.session_key


# --- load generators -----------------------------------------------------------------------


@dataclass
class Load:
    requests: int
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    failures: int
    generator: str
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds by process group
    other_cpu: float = 0.0  # CPU seconds used meanwhile by processes outside the benchmark

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


WRK_SCRIPT = """
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) failed = 0 end
function response(status, headers, body) if status ~= 200 then failed = failed + 1 end end
function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do bad = bad + thread:get("failed") end
  io.write(string.format(
    'JSON {"requests":%d,"duration_us":%d,"p50":%d,"p95":%d,"p99":%d,"errors":%d,"bad":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout + summary.errors.status, bad))
end
"""


def wrk_version() -> str | None:
    if shutil.which("wrk") is None:
        return None
    output = subprocess.run(["wrk", "--version"], capture_output=True, text=True)
    match = re.search(r"wrk (\S+)", output.stdout + output.stderr)
    return f"wrk {match[1]}" if match else "wrk"


def ensure_wrk() -> str | None:
    """wrk if installed; as root on Debian/Ubuntu, install it (as `make test` does Chromium)."""
    found = wrk_version()
    if found or os.geteuid() != 0 or shutil.which("apt-get") is None:
        return found
    print("Installing Debian's wrk for the load tests…", flush=True)
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    subprocess.run(["apt-get", "update", "-qq"], check=False, **quiet)  # type: ignore[call-overload]
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False, **quiet)  # type: ignore[call-overload]
    return wrk_version()


def run_wrk(
    url: str, headers: dict[str, str], connections: int, seconds: float, workdir: Path
) -> Load:
    script = workdir / "bench.lua"
    script.write_text(WRK_SCRIPT)
    command = ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds:g}s", "--timeout", "10s"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    command += ["-s", str(script), url]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    line = next(line for line in output.splitlines() if line.startswith("JSON "))
    data = json.loads(line[5:])
    return Load(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50"] / 1000,
        p95_ms=data["p95"] / 1000,
        p99_ms=data["p99"] / 1000,
        failures=data["errors"] + data["bad"],
        generator="wrk",
    )


def _python_users(url: str, headers: dict[str, str], users: int, until: float) -> dict[str, Any]:
    """One load process: `users` threads, each a keep-alive connection in a closed loop."""
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()

    def user() -> None:
        mine: list[float] = []
        bad = 0
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
        while time.time() < until:
            started = time.perf_counter()
            try:
                connection.request("GET", target, headers=headers)
                response = connection.getresponse()
                response.read()
                ok = response.status == 200
            except (OSError, http.client.HTTPException):
                connection.close()
                ok = False
            mine.append(time.perf_counter() - started)
            bad += not ok
        connection.close()
        with lock:
            latencies.extend(mine)
            failures[0] += bad

    threads = [threading.Thread(target=user) for _ in range(users)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"latencies": latencies, "failures": failures[0]}


def run_python_load(url: str, headers: dict[str, str], connections: int, seconds: float) -> Load:
    processes = min(2, connections)
    share = [connections // processes + (i < connections % processes) for i in range(processes)]
    started = time.time()
    until = started + 1 + seconds  # a second to start the processes
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        results = pool.starmap(_python_users, [(url, headers, n, until) for n in share])
    latencies = sorted(value for result in results for value in result["latencies"])
    return Load(
        requests=len(latencies),
        seconds=seconds,
        p50_ms=percentile(latencies, 50) * 1000,
        p95_ms=percentile(latencies, 95) * 1000,
        p99_ms=percentile(latencies, 99) * 1000,
        failures=sum(result["failures"] for result in results),
        generator="python",
    )


def percentile(ordered: list[float], p: float) -> float:
    if not ordered:
        return math.nan
    index = min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))
    return ordered[index]


class LoadGenerator:
    def __init__(self, workdir: Path, choice: str) -> None:
        self.workdir = workdir
        self.wrk = ensure_wrk() if choice in {"auto", "wrk"} else None
        if choice == "wrk" and self.wrk is None:
            raise SystemExit("wrk is not installed (apt-get install wrk).")
        self.name = self.wrk or f"Python {platform.python_version()} (2 processes × threads)"

    def run(
        self,
        url: str,
        headers: dict[str, str],
        connections: int,
        seconds: float,
        watch: dict[str, Callable[[], float]],
    ) -> Load:
        """Run the load; `watch` names the CPU counters of the processes under test."""
        # Unmeasured first: every server thread opens its upstream connection and fills its
        # caches, so the measured run is the steady state.
        self._load(url, headers, connections, min(2.0, seconds))
        before = {name: read() for name, read in watch.items()}
        children_before = finished_children_cpu()
        own_before, busy_before = own_cpu_seconds(), machine_busy_seconds()
        load = self._load(url, headers, connections, seconds)
        load.cpu = {name: read() - before[name] for name, read in watch.items()}
        load.cpu["load generator"] = finished_children_cpu() - children_before
        # Whatever else ran on the machine meanwhile (another test suite, say) took CPU from
        # the processes under test: reported so that a disturbed run shows as one.
        ours = sum(load.cpu.values()) + own_cpu_seconds() - own_before - load.cpu["load generator"]
        load.other_cpu = max(0.0, machine_busy_seconds() - busy_before - ours)
        return load

    def _load(self, url: str, headers: dict[str, str], connections: int, seconds: float) -> Load:
        if self.wrk:
            return run_wrk(url, headers, connections, seconds, self.workdir)
        return run_python_load(url, headers, connections, seconds)


# --- the benchmarks ------------------------------------------------------------------------


@dataclass
class Context:
    app: Gunicorn
    sandbox: SandboxProcess
    cookie: str
    workdir: Path

    @property
    def token(self) -> str:
        token: str = self.sandbox.tokens["access_token"]
        return token

    def app_headers(self, *, htmx: bool, current: str = "/cases/") -> dict[str, str]:
        """What the browser sends; `current` is the page htmx is on (HX-Current-URL)."""
        headers = {"Cookie": self.cookie, "Accept-Encoding": BROWSER_ENCODING}
        if htmx:
            headers |= {"HX-Request": "true", "HX-Current-URL": f"{self.app.base_url}{current}"}
        return headers


def timed_get(session: requests.Session, url: str, headers: dict[str, str]) -> tuple[float, int]:
    started = time.perf_counter()
    response = session.get(url, headers=headers, timeout=60)
    body = response.content
    elapsed = time.perf_counter() - started
    if response.status_code != 200 or not body:
        raise RuntimeError(f"GET {url}: HTTP {response.status_code}")
    return elapsed, len(body)


def fragment_overhead(ctx: Context, per_page: int, samples: int) -> dict[str, Any]:
    """Median of the /cases/ fragment (refresh=1, so it goes upstream every time) against a
    raw GET of the same upstream page, alternating so drift affects both alike."""
    app_url = f"{ctx.app.base_url}/cases/?per_page={per_page}&refresh=1"
    raw_url = f"{ctx.sandbox.base_url}{CASES_PATH}?page=1&per_page={per_page}"
    raw_headers = {"Authorization": f"Bearer {ctx.token}", "Accept": "application/json"}
    # As after a pager click on a view already showing `per_page` rows: the same filters.
    app_headers = ctx.app_headers(htmx=True, current=f"/cases/?per_page={per_page}&page=2")
    fragment_times, raw_times = [], []
    with requests.Session() as app, requests.Session() as raw:
        for _ in range(5):  # warm connections and caches of compiled templates
            timed_get(app, app_url, app_headers)
            timed_get(raw, raw_url, raw_headers)
        for _ in range(samples):
            raw_times.append(timed_get(raw, raw_url, raw_headers)[0])
            fragment_times.append(timed_get(app, app_url, app_headers)[0])
    fragment = statistics.median(fragment_times) * 1000
    upstream = statistics.median(raw_times) * 1000
    return {
        "per_page": per_page,
        "samples": samples,
        "fragment_ms": fragment,
        "upstream_ms": upstream,
        "overhead_ms": fragment - upstream,
        "ratio": fragment / upstream,
        "fragment_p90_ms": percentile(sorted(fragment_times), 90) * 1000,
    }


def concurrency(
    ctx: Context, generator: LoadGenerator, users: int, seconds: float, latency: int
) -> dict[str, Any]:
    url = f"{ctx.app.base_url}/cases/?per_page=50&refresh=1"
    headers = ctx.app_headers(htmx=True, current="/cases/?page=2")
    with requests.Session() as session:
        timed_get(session, url, headers)  # the session works and the fragment renders
    sandbox_pid = ctx.sandbox.process.pid
    workers = children_of(ctx.app.process.pid)
    worker_before = [cpu_seconds(pid) for pid in workers]
    load = generator.run(
        url,
        headers,
        users,
        seconds,
        {"Casebook (gunicorn)": ctx.app.cpu, "sandbox": lambda: cpu_seconds(sandbox_pid)},
    )
    # How evenly the kernel spread the connections: each worker has one GIL, so one core.
    worker_cpu = [
        cpu_seconds(pid) - before for pid, before in zip(workers, worker_before, strict=True)
    ]
    ideal = users / (latency / 1000)
    threads = ctx.app.workers * ctx.app.threads
    cpu_per_request = {name: used / load.requests * 1000 for name, used in load.cpu.items()}
    return {
        "latency_ms": latency,
        "users": users,
        "seconds": load.seconds,
        "server": ctx.app.description,
        "requests": load.requests,
        "throughput": load.throughput,
        "ideal": ideal,
        "of_ideal": load.throughput / ideal,
        "p50_ms": load.p50_ms,
        "p95_ms": load.p95_ms,
        "p99_ms": load.p99_ms,
        "failures": load.failures,
        "threads": threads,
        # More users than threads queue: `threads` requests at a time at best.
        "thread_ceiling": min(users, threads) / (latency / 1000),
        "cpu_ms_per_request": cpu_per_request,
        "worker_cpu_split": [used / max(sum(worker_cpu), 1e-9) for used in worker_cpu],
        "other_load": load.other_cpu / (load.seconds * (os.cpu_count() or 1)),
        # Two cores, and every request costs this much CPU across the processes on them.
        "cpu_ceiling": (os.cpu_count() or 1) * 1000 / sum(cpu_per_request.values()),
    }


def measure_concurrency(
    ctx: Context,
    generator: LoadGenerator,
    plan: Plan,
    latency: int,
    phase: Callable[[str], None],
) -> dict[str, Any]:
    """One concurrency run, taken once more if other work on the machine disturbed it."""
    row = concurrency(ctx, generator, plan.users, plan.duration, latency)
    if row["other_load"] > 0.1:
        phase(f"   {row['other_load']:.0%} of the CPU went to other work meanwhile: once more")
        again = concurrency(ctx, generator, plan.users, plan.duration, latency)
        row = min(row, again, key=lambda candidate: candidate["other_load"])
    return row


def sandbox_capacity(
    ctx: Context, generator: LoadGenerator, users: int, seconds: float, latency: int
) -> dict[str, Any]:
    """The sandbox alone under the same load: can it serve the ideal rate at all?"""
    url = f"{ctx.sandbox.base_url}{CASES_PATH}?page=1&per_page=50"
    headers = {"Authorization": f"Bearer {ctx.token}", "Accept-Encoding": "identity"}
    sandbox_pid = ctx.sandbox.process.pid
    load = generator.run(
        url, headers, users, seconds, {"sandbox": lambda: cpu_seconds(sandbox_pid)}
    )
    return {
        "latency_ms": latency,
        "users": users,
        "throughput": load.throughput,
        "ideal": users / (latency / 1000),
        "p95_ms": load.p95_ms,
        "failures": load.failures,
        "sandbox_cpu_ms_per_request": load.cpu["sandbox"] / max(load.requests, 1) * 1000,
    }


def cache_speedup(ctx: Context, samples: int, latency: int) -> dict[str, Any]:
    """Distinct queries, each asked twice: the first goes upstream, the repeat is cached.

    Paging through one sorted view, as the pager does: the filters stay, only the page moves.
    """
    headers = ctx.app_headers(htmx=True, current="/cases/?per_page=50&page=1&sort=ASC")
    first, repeat = [], []
    # One keep-alive connection: the per-user cache is per process (locmem) in this setup, and
    # a connection stays with one gunicorn worker. With Redis (CACHE_URL) any worker would do.
    with requests.Session() as session:
        for number in range(samples):
            url = f"{ctx.app.base_url}/cases/?per_page=50&page={number + 2}&sort=ASC"
            first.append(timed_get(session, url, headers)[0])
            repeat.append(timed_get(session, url, headers)[0])
    first_ms = statistics.median(first) * 1000
    repeat_ms = statistics.median(repeat) * 1000
    return {
        "latency_ms": latency,
        "samples": samples,
        "first_ms": first_ms,
        "repeat_ms": repeat_ms,
        "speedup": first_ms / repeat_ms,
    }


def profile_fragment(cookie: str, per_page: int, samples: int) -> dict[str, Any]:
    """Where Casebook's time goes in one /cases/ fragment: cProfile over in-process requests
    (Django's test client, the same settings, the sandbox process upstream), as shares of the
    request, so each run says which part to make cheaper."""
    import cProfile
    import inspect
    import pstats

    from django.core.cache.backends.locmem import LocMemCache
    from django.core.handlers.base import BaseHandler
    from django.middleware.gzip import GZipMiddleware
    from django.shortcuts import render as django_render
    from django.template.defaulttags import PartialNode
    from django.test import Client

    from dashboard import presentation
    from dashboard.talkdesk import models as talkdesk_models
    from dashboard.talkdesk.transport import Transport
    from dashboard.views.cases import case_list

    def key(function: Any) -> tuple[str, int, str]:
        code = inspect.unwrap(function).__code__
        return code.co_filename, code.co_firstlineno, code.co_name

    total = key(BaseHandler.get_response)
    buckets = {
        "upstream: request, wait, read (Transport.get_json)": key(Transport.get_json),
        "upstream: JSON → dataclasses (parse_case_page)": key(talkdesk_models.parse_case_page),
        "cells: presentation.table_body (one pass)": key(presentation.table_body),
        "template: the results partial, rows and pager": key(django_render),
        "template: of which the filter form's out-of-band copy": key(PartialNode.render),
        "cache: storing the page (pickle)": key(LocMemCache.set),
        "gzip (GZipMiddleware)": key(GZipMiddleware.process_response),
    }
    view = key(case_list)
    client = Client(HTTP_HOST="127.0.0.1", HTTP_COOKIE=cookie, HTTP_ACCEPT_ENCODING="gzip")
    url = f"/cases/?per_page={per_page}&refresh=1"
    headers = {"HX-Request": "true"}
    for _ in range(3):
        assert client.get(url, headers=headers).status_code == 200
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(samples):
        client.get(url, headers=headers)
    profiler.disable()
    stats: dict[tuple[str, int, str], tuple[Any, ...]] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]

    def cumulative(name: tuple[str, int, str]) -> float:
        return float(stats[name][3]) if name in stats else 0.0

    whole = cumulative(total)
    shares = {label: cumulative(name) / whole for label, name in buckets.items()}
    counted = sum(share for label, share in shares.items() if "of which" not in label)
    shares["view outside those (form, query, chips, pager links, context)"] = (
        cumulative(view) / whole - counted
    )
    shares["middleware, session, user and connection look-ups"] = (
        1 - cumulative(view) / whole - (shares["gzip (GZipMiddleware)"])
    )
    return {"per_page": per_page, "samples": samples, "shares": shares}


def _wire_bytes(response: requests.Response) -> tuple[int, bytes, str]:
    """(bytes on the wire incl. headers, the decoded body, its content encoding)."""
    raw = response.raw.read(decode_content=False)
    head = len(f"HTTP/1.1 {response.status_code} {response.reason}\r\n") + 2
    head += sum(len(f"{name}: {value}\r\n") for name, value in response.headers.items())
    encoding = response.headers.get("Content-Encoding", "identity")
    decoded = raw
    if encoding == "gzip":
        import gzip

        decoded = gzip.decompress(raw)
    elif encoding == "br":
        import brotli  # type: ignore[import-untyped]

        decoded = brotli.decompress(raw)
    return head + len(raw), decoded, encoding


def page_weight(ctx: Context) -> dict[str, Any]:
    """What a browser downloads for the first load of /cases/, and for a 50-row fragment."""
    items: list[dict[str, Any]] = []

    def fetch(session: requests.Session, path: str, headers: dict[str, str]) -> bytes:
        response = session.get(
            f"{ctx.app.base_url}{path}", headers=headers, stream=True, timeout=60
        )
        if response.status_code != 200:
            raise RuntimeError(f"GET {path}: HTTP {response.status_code}")
        wire, body, encoding = _wire_bytes(response)
        items.append({"what": path, "wire": wire, "decoded": len(body), "enc": encoding})
        return body

    with requests.Session() as session:
        html = fetch(session, "/cases/", ctx.app_headers(htmx=False)).decode()
        assets = re.findall(r'<(?:script|link)[^>]+(?:src|href)="(/static/[^"]+)"', html)
        for asset in dict.fromkeys(assets):
            fetch(session, asset, {"Accept-Encoding": BROWSER_ENCODING})
        page_items = list(items)
        fetch(session, "/cases/?per_page=50", ctx.app_headers(htmx=True))
    fragment = items[-1]
    return {
        "first_load": sum(item["wire"] for item in page_items),
        "first_load_decoded": sum(item["decoded"] for item in page_items),
        "items": page_items,
        "fragment": fragment["wire"],
        "fragment_decoded": fragment["decoded"],
        "fragment_encoding": fragment["enc"],
    }


def export_run(ctx: Context, query: str, latency: int, label: str) -> dict[str, Any]:
    """One export through a single gunicorn worker: time, rows, the worker's memory."""
    (worker,) = children_of(ctx.app.process.pid)
    headers = ctx.app_headers(htmx=False)
    with requests.Session() as session:
        # Warm the worker (imports, the thread pool's first use) on a one-page export.
        session.get(
            f"{ctx.app.base_url}/cases/export.csv?ids=1", headers=headers
        ).raise_for_status()
        hwm_before, rss_before = memory_kib(worker, "VmHWM"), memory_kib(worker, "VmRSS")
        cpu_before = cpu_seconds(worker)
        started = time.perf_counter()
        response = session.get(
            f"{ctx.app.base_url}/cases/export.csv?{query}",
            headers=headers,
            stream=True,
            timeout=600,
        )
        first_byte = time.perf_counter() - started
        response.raise_for_status()
        gzipped = response.headers.get("Content-Encoding") == "gzip"
        inflate = zlib.decompressobj(wbits=31)  # gzip framing
        # csv.writer ends rows with CRLF, while newlines inside a quoted cell (descriptions)
        # come from Talkdesk as LF: counting CRLF counts rows without parsing the CSV here,
        # which would take CPU from the worker being measured.
        lines = size = wire = 0
        tail = b""
        for raw in response.raw.stream(256 * 1024, decode_content=False):
            wire += len(raw)
            chunk = inflate.decompress(raw) if gzipped else raw
            lines += chunk.count(b"\r\n") + (tail[-1:] == b"\r" and chunk[:1] == b"\n")
            size += len(chunk)
            tail = (tail + chunk)[-4096:]
        elapsed = time.perf_counter() - started
    hwm_after, rss_after = memory_kib(worker, "VmHWM"), memory_kib(worker, "VmRSS")
    last_line = tail.rstrip(b"\r\n").rsplit(b"\r\n", 1)[-1].decode("utf-8", "replace")
    complete = not last_line.startswith(('"# EXPORT INCOMPLETE', "# EXPORT INCOMPLETE"))
    rows = lines - 1 - (not complete)  # the header, and the line saying it is incomplete
    pages = math.ceil(rows / EXPORT_PER_PAGE)
    ideal = pages * (latency / 1000) / EXPORT_WORKERS
    return {
        "query": label,
        "rows": rows,
        "complete": complete,
        "pages": pages,
        "latency_ms": latency,
        "seconds": elapsed,
        "first_byte_s": first_byte,
        "ideal_s": ideal,
        "of_ideal": elapsed / ideal,
        "csv_bytes": size,
        "wire_bytes": wire,
        "worker_cpu_s": cpu_seconds(worker) - cpu_before,
        "hwm_before_mb": hwm_before * 1024 / 1e6,
        "hwm_after_mb": hwm_after * 1024 / 1e6,
        "growth_mb": (hwm_after - hwm_before) * 1024 / 1e6,
        "rss_after_mb": rss_after * 1024 / 1e6,
        "rss_before_mb": rss_before * 1024 / 1e6,
    }


# --- the report ----------------------------------------------------------------------------


def machine() -> dict[str, str]:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    meminfo = Path("/proc/meminfo").read_text()
    total = re.search(r"^MemTotal:\s*(\d+) kB", meminfo, re.MULTILINE)
    nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    from importlib.metadata import version

    import django

    return {
        "cores": nproc or str(os.cpu_count()),
        "cpu": model[1].strip() if model else platform.processor() or "unknown",
        "ram": f"{int(total[1]) / 1024 / 1024:.1f} GiB" if total else "unknown",
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "django": django.get_version(),
        "gunicorn": version("gunicorn"),
        "requests": requests.__version__,
    }


def verdict(met: bool) -> str:
    return "✅ met" if met else "❌ **missed**"


def render(results: dict[str, Any], plan: Plan, quick: bool) -> str:
    m = results["machine"]
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`python -m dashboard.bench`"
        + (" --quick" if quick else "")
        + f") on {results['date']}; every figure is from that one run, each beside its "
        "baseline measured in the same run. The goals are those of issue 7 (DESIGN §5).",
        "",
        "## Machine and set-up",
        "",
        "| | |",
        "|---|---|",
        f"| CPU | {m['cpu']}, {m['cores']} cores (`nproc`) |",
        f"| RAM | {m['ram']} |",
        f"| OS | {m['os']} |",
        f"| Software | Python {m['python']}, Django {m['django']}, gunicorn {m['gunicorn']}, "
        f"requests {m['requests']} |",
        f"| Casebook | `{results['server']}`, DEBUG off, SQLite, locmem cache, "
        "GZipMiddleware and WhiteNoise as in production |",
        "| Talkdesk | the sandbox in its own process on 127.0.0.1 "
        f"({results['sandbox_cases']:,} cases; {results['export_cases']:,} for the export), "
        "with a fixed added latency per API call |",
        f"| Load generator | {results['generator']}, on the same two cores, "
        "closed loop: each simulated user sends its next request when the last one is answered |",
        f"| Other load | {results['other_load']:.0%} of the machine's CPU went to processes "
        "outside the benchmark during the run (from /proc/stat); 1-minute load average "
        f"{results['load_average_before']:.2f} before it"
        + (
            " — **a disturbed run: treat its figures with care**"
            if results["other_load"] > 0.05
            else ""
        )
        + " |",
        "",
        "## Results",
        "",
        "| # | benchmark | measured | baseline (same run) | goal | |",
        "|---|---|---|---|---|---|",
    ]
    for row in results["fragments"]:
        limit = 15 if row["per_page"] <= 50 else 40
        lines.append(
            f"| 1 | `/cases/` fragment, {row['per_page']} rows, upstream +0 ms "
            f"| {row['fragment_ms']:.1f} ms median "
            f"| raw upstream GET {row['upstream_ms']:.1f} ms: **+{row['overhead_ms']:.1f} ms**, "
            f"{row['ratio']:.1f}× "
            f"| overhead < {limit} ms | {verdict(row['overhead_ms'] < limit)} |"
        )
    for row in results["concurrency"]:
        goal_p95 = row["latency_ms"] + 100
        met = row["of_ideal"] >= 0.8 and row["p95_ms"] < goal_p95
        lines.append(
            f"| 2 | {row['users']} users, {row['seconds']:.0f} s, upstream +{row['latency_ms']} ms, "
            f"{row['threads']} threads "
            f"| {row['throughput']:.0f} req/s, p50 {row['p50_ms']:.0f} ms, p95 {row['p95_ms']:.0f} ms "
            f"| ideal {row['ideal']:.0f} req/s: **{row['of_ideal']:.0%}** "
            f"| ≥ 80 %, p95 < {goal_p95} ms | {verdict(met)} |"
        )
    for row in results["exports"]:
        met = row["complete"] and row["of_ideal"] <= 1.5 and row["growth_mb"] < 50
        lines.append(
            f"| 3 | export {row['query']}: {row['rows']:,} rows, {row['pages']} pages, "
            f"upstream +{row['latency_ms']} ms "
            f"| {row['seconds']:.1f} s, peak memory +{row['growth_mb']:.1f} MB "
            f"| ideal {row['ideal_s']:.1f} s: **{row['of_ideal']:.2f}×** "
            f"| ≤ 1.5×, < 50 MB | {verdict(met)} |"
        )
    weight = results["weight"]
    lines.append(
        f"| 4 | first load of `/cases/` (HTML + CSS + JS) "
        f"| **{weight['first_load'] / 1000:.1f} KB** on the wire "
        f"| {weight['first_load_decoded'] / 1000:.1f} KB uncompressed "
        f"| < 60 KB | {verdict(weight['first_load'] < 60_000)} |"
    )
    lines.append(
        f"| 4 | 50-row fragment | **{weight['fragment'] / 1000:.1f} KB** on the wire "
        f"({weight['fragment_encoding']}) "
        f"| {weight['fragment_decoded'] / 1000:.1f} KB uncompressed "
        f"| < 12 KB | {verdict(weight['fragment'] < 12_000)} |"
    )
    cache = results["cache"]
    lines.append(
        f"| 5 | repeated identical query, upstream +{cache['latency_ms']} ms "
        f"| {cache['repeat_ms']:.1f} ms median "
        f"| first {cache['first_ms']:.1f} ms: **{cache['speedup']:.1f}× faster** "
        f"| ≥ 10× | {verdict(cache['speedup'] >= 10)} |"
    )
    lines += ["", "## Details", "", "### 1. Fragment overhead", ""]
    lines.append(
        "Sequential requests over keep-alive connections, alternating a raw `requests` GET of "
        "the upstream page (with the same bearer token and parameters Casebook sends) and the "
        "`/cases/` fragment (`HX-Request: true`, `refresh=1` so every request goes upstream, "
        f"`Accept-Encoding: {BROWSER_ENCODING}`). The sandbox adds no latency here, so the "
        "difference is Casebook's own cost: session and user look-up, the form, encoding, "
        "parsing, rendering and compression."
    )
    lines += ["", "| rows | samples | fragment median | fragment p90 | raw upstream median | overhead |", "|---|---|---|---|---|---|"]  # fmt: skip
    for row in results["fragments"]:
        lines.append(
            f"| {row['per_page']} | {row['samples']} | {row['fragment_ms']:.1f} ms "
            f"| {row['fragment_p90_ms']:.1f} ms | {row['upstream_ms']:.1f} ms "
            f"| {row['overhead_ms']:.1f} ms |"
        )
    lines += ["", "### 2. Concurrency", ""]
    lines.append(
        f"Each simulated user GETs `/cases/?per_page=50&refresh=1` as htmx would after a pager "
        f"click (the filters unchanged, so only the results come back), in a loop, for {plan.duration:g} s, "
        "after 2 unmeasured seconds that open every connection. Ideal = users ÷ upstream latency. Two ceilings explain the "
        "result: the **thread ceiling** (a request holds a gthread thread for the whole upstream "
        "wait, so at most workers × threads requests are in flight: min(users, threads) ÷ "
        "latency), and the **CPU ceiling** (2 cores ÷ the CPU every request costs in all the "
        "processes on them: Casebook, the sandbox and the load generator, measured from "
        "/proc and getrusage during the run)."
    )
    lines += ["", "| server | upstream | req/s | of ideal | p50 | p95 | p99 | failed | thread ceiling | CPU per request (Casebook / sandbox / load gen.) | CPU ceiling | CPU split between workers | other load |", "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for row in results["concurrency"]:
        cpu = row["cpu_ms_per_request"]
        lines.append(
            f"| `{row['server'].replace('gunicorn dashboard.wsgi ', '')}` | +{row['latency_ms']} ms "
            f"| {row['throughput']:.0f} | {row['of_ideal']:.0%} | {row['p50_ms']:.0f} ms "
            f"| {row['p95_ms']:.0f} ms | {row['p99_ms']:.0f} ms | {row['failures']} "
            f"| {row['thread_ceiling']:.0f} req/s "
            f"| {cpu['Casebook (gunicorn)']:.1f} / {cpu['sandbox']:.1f} / "
            f"{cpu['load generator']:.1f} ms | {row['cpu_ceiling']:.0f} req/s "
            f"| {' / '.join(f'{share:.0%}' for share in row['worker_cpu_split'])} "
            f"| {row['other_load']:.0%} |"
        )
    for row in results["sandbox_capacity"]:
        lines += [
            "",
            f"The sandbox alone, under the same {row['users']} users at +{row['latency_ms']} ms "
            f"(same run): {row['throughput']:.0f} req/s of an ideal {row['ideal']:.0f} "
            f"(p95 {row['p95_ms']:.0f} ms, {row['failures']} failed, "
            f"{row['sandbox_cpu_ms_per_request']:.2f} ms CPU per request), so "
            + (
                "the sandbox is not what limits Casebook's figures."
                if row["throughput"] >= 0.9 * row["ideal"]
                else "the sandbox itself is part of the limit."
            ),
        ]
    lines += ["", "### 3. Export", ""]
    lines.append(
        f"`GET /cases/export.csv` through one gunicorn worker (`--workers 1 --threads "
        f"{plan.threads}`, so its pid is known) with `Accept-Encoding: {BROWSER_ENCODING}` as a "
        f"browser sends it. Ideal = pages × latency ÷ {EXPORT_WORKERS} concurrent fetches. "
        "Memory is the worker's VmHWM (peak RSS) from /proc before and after, after a one-page "
        "warm-up export."
    )
    lines += ["", "| export | rows | complete | time | first byte | ideal | CSV | on the wire | worker CPU | peak RSS before → after | growth |", "|---|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for row in results["exports"]:
        lines.append(
            f"| {row['query']} | {row['rows']:,} | {'yes' if row['complete'] else 'NO'} "
            f"| {row['seconds']:.1f} s | {row['first_byte_s'] * 1000:.0f} ms | {row['ideal_s']:.1f} s "
            f"| {row['csv_bytes'] / 1e6:.1f} MB | {row['wire_bytes'] / 1e6:.1f} MB "
            f"| {row['worker_cpu_s']:.1f} s "
            f"| {row['hwm_before_mb']:.1f} → {row['hwm_after_mb']:.1f} MB | {row['growth_mb']:+.1f} MB |"
        )
    lines += ["", "### 4. Page weight", "", "| resource | on the wire | uncompressed | encoding |", "|---|---|---|---|"]  # fmt: skip
    for item in weight["items"]:
        lines.append(
            f"| `{item['what']}` | {item['wire']:,} B | {item['decoded']:,} B | {item['enc']} |"
        )
    lines.append(
        f"| 50-row fragment | {weight['fragment']:,} B | {weight['fragment_decoded']:,} B "
        f"| {weight['fragment_encoding']} |"
    )
    lines += [
        "",
        "On the wire = response headers + body as sent (`Accept-Encoding: "
        f"{BROWSER_ENCODING}`); the full page is a signed-in first visit, as a browser asks for it.",
        "",
        "### 5. Cache",
        "",
        f"{cache['samples']} distinct queries (`page=2…`), each asked twice in a row on one "
        "keep-alive connection (the per-user cache is per process with the default locmem "
        "backend; Redis via `CACHE_URL` shares it between workers). Medians.",
    ]
    lines += profile_section(results)
    notes = explain(results, plan)
    if notes:
        lines += ["", "## What limits the figures", ""] + [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"


def profile_section(results: dict[str, Any]) -> list[str]:
    profiles = results["profiles"]
    if not profiles:
        return []
    medians = {row["per_page"]: row["fragment_ms"] for row in results["fragments"]}
    lines = [
        "",
        "### Where Casebook's time goes",
        "",
        "cProfile over in-process fragment requests (`refresh=1`, the sandbox upstream with no "
        "added latency), as shares of the whole request; ≈ ms applies the share to benchmark "
        "1's median.",
        "",
        "| part of the request | " + " | ".join(f"{p['per_page']} rows" for p in profiles) + " |",
        "|---|" + "---|" * len(profiles),
    ]
    for label in profiles[0]["shares"]:
        cells = []
        for profile in profiles:
            share = profile["shares"][label]
            cells.append(f"{share:.0%} (≈ {share * medians[profile['per_page']]:.1f} ms)")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def explain(results: dict[str, Any], plan: Plan) -> list[str]:
    """Plain-words reasons for the figures, derived from this run's own measurements."""
    notes = []
    shares = {p["per_page"]: p["shares"] for p in results["profiles"]}
    for row in results["fragments"]:
        share = shares.get(row["per_page"])
        if share is None:
            continue
        cells = share["cells: presentation.table_body (one pass)"]
        template = share["template: the results partial, rows and pager"]
        form = share["template: of which the filter form's out-of-band copy"]
        parse = share["upstream: JSON → dataclasses (parse_case_page)"]
        notes.append(
            f"Fragment, {row['per_page']} rows: Casebook adds {row['overhead_ms']:.1f} ms to a "
            f"{row['upstream_ms']:.1f} ms upstream answer. Building the cells takes "
            f"{cells:.0%} of the request and rendering the template {template:.0%} (the filter "
            f"form's out-of-band copy alone {form:.0%}); parsing Talkdesk's JSON {parse:.0%}."
        )
    for row in results["concurrency"]:
        limits = {
            "the ideal": row["ideal"],
            "the thread ceiling": row["thread_ceiling"],
            "the CPU ceiling": row["cpu_ceiling"],
        }
        lowest = min(limits, key=lambda name: limits[name])
        cpu = row["cpu_ms_per_request"]
        notes.append(
            f"Concurrency at +{row['latency_ms']} ms with {row['threads']} threads: "
            f"{row['throughput']:.0f} req/s against {lowest} of {limits[lowest]:.0f} req/s "
            f"(ideal {row['ideal']:.0f}, threads {row['thread_ceiling']:.0f}, CPU "
            f"{row['cpu_ceiling']:.0f}). Each request costs {cpu['Casebook (gunicorn)']:.1f} ms "
            f"of CPU in Casebook, {cpu['sandbox']:.1f} ms in the sandbox and "
            f"{cpu['load generator']:.1f} ms in the load generator, on {os.cpu_count()} cores; "
            "the two workers (one GIL, so at most one core each) took "
            + " and ".join(f"{share:.0%}" for share in row["worker_cpu_split"])
            + " of Casebook's CPU."
        )
    for cap in results["sandbox_capacity"]:
        notes.append(
            f"The sandbox alone served {cap['throughput']:.0f} of an ideal {cap['ideal']:.0f} "
            f"req/s at +{cap['latency_ms']} ms ({cap['sandbox_cpu_ms_per_request']:.2f} ms CPU "
            "per request), so Talkdesk's stand-in is "
            + (
                "not the limit."
                if cap["throughput"] >= 0.9 * cap["ideal"]
                else "part of the limit."
            )
        )
    for row in results["exports"]:
        bound = (
            "so the export is bound by that CPU rather than by Talkdesk's latency"
            if row["worker_cpu_s"] > 0.8 * row["ideal_s"]
            else "so Talkdesk's latency, not CPU, sets its pace"
        )
        per_page = row["worker_cpu_s"] / row["pages"] * 1000
        slots = row["pages"] * (row["latency_ms"] + per_page) / 1000 / EXPORT_WORKERS
        notes.append(
            f"Export ({row['query']}): {row['seconds']:.1f} s against an ideal of "
            f"{row['ideal_s']:.1f} s; the worker spent {row['worker_cpu_s']:.1f} s of CPU on it "
            f"({per_page:.0f} ms a page: parsing 500 cases, writing CSV, gzip), all under one "
            f"GIL, {bound}. Each of the {EXPORT_WORKERS} fetch slots also parses its own page, "
            "so a slot turns over every latency + parse time, not every latency: at best "
            f"{slots:.1f} s, before the threads wait on each other for the GIL. Peak memory "
            f"grew {row['growth_mb']:.1f} MB."
        )
    plain = [row for row in results["exports"] if "MALLOC" not in row["query"]]
    fixed = [row for row in results["exports"] if "MALLOC" in row["query"]]
    if plain and fixed:
        notes.append(
            f"Export memory: +{plain[0]['growth_mb']:.1f} MB with the production configuration, "
            f"+{fixed[0]['growth_mb']:.1f} MB in the same run with glibc's mmap threshold fixed "
            "(`MALLOC_MMAP_THRESHOLD_=131072`). Casebook holds at most the pages in flight and "
            "the one being written; the difference is glibc raising its mmap threshold after "
            "the first large free, so later page-sized buffers come from heap arenas that "
            "fragment and are not given back."
        )
    cache = results["cache"]
    notes.append(
        f"Cache: a cached answer still costs {cache['repeat_ms']:.1f} ms because the cache keeps "
        "the parsed page, not the rendered fragment: it saves the upstream round trip "
        f"({cache['latency_ms']} ms here), not Casebook's rendering."
    )
    return notes


# --- the run -------------------------------------------------------------------------------


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def run(plan: Plan, args: argparse.Namespace) -> dict[str, Any]:
    def phase(message: str) -> None:
        log(message)
        if args.wait_idle > 0:
            wait_for_quiet(min(args.wait_idle, 120))

    results: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "plan": plan.__dict__,
        "fragments": [],
        "concurrency": [],
        "sandbox_capacity": [],
        "exports": [],
        "profiles": [],
        "notes": [],
        "load_average_before": os.getloadavg()[0],
    }
    own_before, busy_before, started = own_cpu_seconds(), machine_busy_seconds(), time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="casebook-bench-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        workdir = Path(tmp)
        generator = LoadGenerator(workdir, args.load)
        results["generator"] = generator.name
        log(f"load generator: {generator.name}")
        # Both sandboxes generate their data at once, before anything is measured.
        browse = SandboxProcess(10_000, 0, workdir / "sandbox.log")
        stack.callback(browse.stop)
        bulk = SandboxProcess(plan.export_cases, plan.export_latency, workdir / "sandbox.log")
        stack.callback(bulk.stop)
        env = base_env(workdir)
        prepare_database(env)
        browse.ready()
        bulk.ready()
        setup_django(talkdesk_env(env, browse))
        name, value = connect_bench_user(browse.tokens)
        cookie = f"{name}={value}"
        results["machine"] = machine()
        results["sandbox_cases"] = 10_000
        results["export_cases"] = plan.export_cases

        log(f"gunicorn --workers {plan.workers} --threads {plan.threads}")
        app = Gunicorn(
            talkdesk_env(env, browse), workers=plan.workers, threads=plan.threads,
            log=workdir / "gunicorn.log",
        )  # fmt: skip
        stack.callback(app.stop)
        results["server"] = app.description
        ctx = Context(app, browse, cookie, workdir)

        for per_page in (50, 500):
            phase(f"1. fragment overhead, {per_page} rows")
            results["fragments"].append(fragment_overhead(ctx, per_page, plan.fragment_samples))
        for per_page in (50, 500):
            log(f"   profile of the {per_page}-row fragment")
            results["profiles"].append(profile_fragment(cookie, per_page, plan.profile_samples))
        phase("4. page weight")
        results["weight"] = page_weight(ctx)

        for index, latency in enumerate(plan.latencies):
            browse.set_latency(latency)
            if index == 0:
                phase(f"   sandbox capacity at +{latency} ms")
                results["sandbox_capacity"].append(
                    sandbox_capacity(ctx, generator, plan.users, min(plan.duration, 5), latency)
                )
                phase(f"5. cache at +{latency} ms")
                results["cache"] = cache_speedup(ctx, plan.cache_samples, latency)
            phase(f"2. concurrency, {plan.users} users, +{latency} ms")
            results["concurrency"].append(measure_concurrency(ctx, generator, plan, latency, phase))
        app.stop()

        if plan.extra_threads:
            extra = Gunicorn(
                talkdesk_env(env, browse), workers=plan.workers, threads=plan.extra_threads,
                log=workdir / "gunicorn.log",
            )  # fmt: skip
            stack.callback(extra.stop)
            ctx = Context(extra, browse, cookie, workdir)
            for latency in plan.latencies:
                browse.set_latency(latency)
                phase(
                    f"2. concurrency, {plan.users} users, +{latency} ms, {plan.extra_threads} threads"
                )
                results["concurrency"].append(
                    measure_concurrency(ctx, generator, plan, latency, phase)
                )
            extra.stop()

        connect_bench_user(bulk.tokens)
        variants: list[tuple[str, str, dict[str, str]]] = [("all cases, visible columns", "", {})]
        if not args.quick:
            variants += [
                # glibc raises its mmap threshold after the first large free, so the export's
                # page-sized buffers then come from (and fragment) the heap; fixing the
                # threshold shows how much of the growth is the allocator, not Casebook.
                ("the same, MALLOC_MMAP_THRESHOLD_=131072", "", GLIBC_FIXED_MMAP),
                ("all cases, fields=all", "fields=all", {}),
            ]
        for label, query, extra_env in variants:
            phase(f"3. export of {plan.export_cases:,} cases at +{plan.export_latency} ms: {label}")
            # A fresh worker each time, so each peak is that export's own.
            single = Gunicorn(
                talkdesk_env(env, bulk) | extra_env, workers=1, threads=plan.threads,
                log=workdir / "gunicorn.log",
            )  # fmt: skip
            stack.callback(single.stop)
            ctx = Context(single, bulk, cookie, workdir)
            results["exports"].append(export_run(ctx, query, plan.export_latency, label))
            single.stop()
    # Every child has been waited for by now, so its CPU is in own_cpu_seconds().
    others = machine_busy_seconds() - busy_before - (own_cpu_seconds() - own_before)
    results["other_load"] = max(0.0, others) / (
        (time.monotonic() - started) * (os.cpu_count() or 1)
    )
    return results


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["serve-sandbox"]:
        serve_sandbox(int(argv[1]), int(argv[2]))
        return 0
    parser = argparse.ArgumentParser(
        prog="python -m dashboard.bench", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="a short smoke run (about a minute)")
    parser.add_argument(
        "--output",
        type=Path,
        help="where to write the markdown (default docs/benchmarks.md; --quick writes none)",
    )
    parser.add_argument("--load", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--users", type=int, help="simulated users for benchmark 2")
    parser.add_argument("--duration", type=float, help="seconds per concurrency run")
    parser.add_argument(
        "--latency-ms", type=int, action="append", dest="latencies",
        help="upstream latency of the concurrency runs (repeat for several)",
    )  # fmt: skip
    parser.add_argument(
        "--wait-idle", type=float, default=180,
        help="seconds to wait at most for other work on the machine to stop (0: do not wait)",
    )  # fmt: skip
    parser.add_argument("--from-json", type=Path, help="re-render a recorded run's JSON")
    parser.add_argument("--export-cases", type=int)
    parser.add_argument("--export-latency-ms", type=int)
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    overrides = {
        "users": args.users,
        "duration": args.duration,
        "latencies": tuple(args.latencies) if args.latencies else None,
        "export_cases": args.export_cases,
        "export_latency": args.export_latency_ms,
    }
    plan = Plan(**(plan.__dict__ | {k: v for k, v in overrides.items() if v is not None}))
    if args.from_json:
        # Re-render a recorded run (docs/benchmarks-raw/…) without measuring again.
        results = json.loads(args.from_json.read_text())
        plan = Plan(**{**results["plan"], "latencies": tuple(results["plan"]["latencies"])})
        markdown = render(results, plan, args.quick)
        (args.output or ROOT / "docs" / "benchmarks.md").write_text(markdown)
        print(markdown)
        return 0
    if args.wait_idle > 0:
        wait_for_quiet(args.wait_idle)
    started = time.monotonic()
    try:
        results = run(plan, args)
    except Exception:
        if LAST_LOG:
            print(f"--- the end of gunicorn's log ---\n{LAST_LOG[-1][-4000:]}", file=sys.stderr)
        raise
    results["elapsed_s"] = time.monotonic() - started
    markdown = render(results, plan, args.quick)
    output = args.output or (None if args.quick else ROOT / "docs" / "benchmarks.md")
    print(markdown)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(markdown)
        raw = ROOT / "docs" / "benchmarks-raw"
        raw.mkdir(exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        (raw / f"{stamp}.json").write_text(json.dumps(results, indent=2, default=str))
        log(f"wrote {output} in {results['elapsed_s']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
