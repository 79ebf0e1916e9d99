"""Class service load test (issue 27): a class answering at once, and a class following the teacher.

Starts the class service (``python -m explorer.serving.class_service``, classroom mode, a fresh
SQLite file in a temporary folder, a free loopback port) and drives it through the kernels'
client (:class:`explorer.serving.class_client.ClassLink`), one link per simulated student:

1. **answers**: the teacher registers a question; ``-n`` students (default 30), each in a thread,
   wait at a barrier and answer at the same moment. Reports each answer's round trip and checks
   the teacher's board: every student counted once (exit 1 otherwise).
2. **follow**: the same students follow the teacher's channel (``watch_channel``, long polls)
   while the teacher publishes a new state (a URL-codec-sized string) every ``--interval``
   seconds for ``--seconds`` seconds (default 60). Latency: from just before the teacher's
   ``publish`` call to the student's ``on_state`` callback, over every (student, version);
   a version a student never received is counted as missed. Exit 1 when the p95 is over
   ``--p95-limit`` (default 1 s) or a version was missed.

Also reported: the machine (CPU count, load averages before and after), the CPU-seconds of the
service process and of this process (the students' and the teacher's clients: on a real class
those run in the kernels). The last line of the output is one JSON object.

Usage (from the repository root)::

    .venv/bin/python -m benchmarks.class_service_load
    .venv/bin/python -m benchmarks.class_service_load --seconds 20 -n 30 --json artifacts/class_load.json

Safety: loopback only, at most 200 students, a hard overall timeout (``--timeout``, default
``seconds + 120``) after which the service is killed; the service (its own process group) is
stopped on exit, on Ctrl-C and on SIGTERM. Nothing else is started.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import signal
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np

from benchmarks._timing import load_average
from explorer.serving.class_client import ClassLink
from harness.classroom import ClassService
from harness.processes import start_watchdog, stop_on_signal

MAX_STUDENTS = 200
QUESTION = {"text": "The temperature doubles: what does the free energy do?",
            "choices": ["goes up", "goes down", "stays the same"], "lesson": "benchmark"}

def cpu_seconds(pid=None):
    import psutil

    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def percentile(values, q):
    """The ``q`` quantile (0..1), numpy's linear interpolation; None for no values."""
    return float(np.percentile(values, 100 * q)) if len(values) else None


def student_link(url, i):
    return ClassLink(url, {"X-Class-Student": f"bench-student-{i:03d}-{secrets.token_hex(4)}"})


def run_answers(url, teacher, students):
    """Every student answers at the same moment; returns the phase's report."""
    qid = "benchmark:q1"
    if not teacher.register_question(qid, **QUESTION):
        raise RuntimeError("the teacher could not register the question")
    barrier = threading.Barrier(len(students))
    times, results = [None] * len(students), [None] * len(students)

    def answer(i, link):
        barrier.wait()
        t0 = time.perf_counter()
        results[i] = link.answer(qid, i % len(QUESTION["choices"]))
        times[i] = time.perf_counter() - t0

    threads = [threading.Thread(target=answer, args=(i, s)) for i, s in enumerate(students)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    wall = time.perf_counter() - t0
    # answers not recorded at once are re-sent by the client: give them a few seconds
    deadline = time.monotonic() + 10
    while any(s.pending_answers() for s in students) and time.monotonic() < deadline:
        time.sleep(0.05)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(url + "api/board", headers=teacher._headers)
    with opener.open(request, timeout=5) as r:
        board = json.loads(r.read())
    (q,) = [q for q in board["questions"] if q["qid"] == qid]
    expected = [sum(1 for i in range(len(students)) if i % len(QUESTION["choices"]) == c)
                for c in range(len(QUESTION["choices"]))]
    return {"students": len(students), "recorded_at_once": sum(bool(r) for r in results),
            "counted": q["answered"], "counts": q["counts"], "expected_counts": expected,
            "all_recorded": q["answered"] == len(students) and q["counts"] == expected,
            "wall_s": round(wall, 3),
            "answer_ms": {"median": round(1e3 * statistics.median(times), 1),
                          "p95": round(1e3 * percentile(times, 0.95), 1), "max": round(1e3 * max(times), 1)}}


def run_follow(teacher, students, seconds, interval):
    """Students follow the teacher's channel while the teacher publishes; returns the phase's report."""
    channel = "benchmark-rbm"
    received = [dict() for _ in students]          # per student: version -> receipt time
    lock = threading.Lock()

    def on_state_for(i):
        def on_state(version, state):
            now = time.perf_counter()
            with lock:
                received[i].setdefault(version, now)
        return on_state

    state = "rbm?T={:.3f}&preset=bars-and-stripes&hidden=4&visible=9&tab=free-energy&seed=7&" + "x" * 120
    first = teacher.publish(channel, state.format(1.0))
    if first is None:
        raise RuntimeError("the teacher could not publish")
    watches = [s.watch_channel(channel, on_state_for(i)) for i, s in enumerate(students)]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not all(first in r for r in received):
        time.sleep(0.02)
    if not all(first in r for r in received):
        raise RuntimeError("not every follower received the teacher's first state within 20 s")
    published = {}                                 # version -> time just before publish()
    # the first timed publish one interval after the first state: a publish sooner than the
    # client's PUBLISH_INTERVAL after the previous one would be deferred to its sender thread
    start = time.perf_counter() + interval
    n = max(1, int(round(seconds / interval)))
    for k in range(n):
        # paced by the clock, not by sleeping a fixed time after each publish: no drift
        target = start + k * interval
        time.sleep(max(0.0, target - time.perf_counter()))
        t0 = time.perf_counter()
        version = teacher.publish(channel, state.format(1.0 + 0.01 * (k + 1)))
        if version is not None:
            published[version] = t0
    time.sleep(min(3.0, interval * 3))             # the last version's stragglers
    for w in watches:
        w.stop()
    latencies, missed = [], 0
    with lock:
        for got in received:
            for version, t0 in published.items():
                if version in got:
                    latencies.append(got[version] - t0)
                else:
                    missed += 1
    return {"followers": len(students), "publishes": n, "published_versions": len(published),
            "publish_failures": n - len(published), "deliveries": len(latencies), "missed": missed,
            "latency_ms": {"p50": _ms(percentile(latencies, 0.5)), "p95": _ms(percentile(latencies, 0.95)),
                           "max": _ms(max(latencies) if latencies else None)},
            "p95_s": percentile(latencies, 0.95)}


def _ms(seconds):
    return None if seconds is None else round(1e3 * seconds, 1)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.class_service_load", description=__doc__.split("\n")[0])
    parser.add_argument("-n", "--students", type=int, default=30, help="simulated students (default 30)")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the teacher publishes (default 60)")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between publishes (default 1)")
    parser.add_argument("--p95-limit", type=float, default=1.0, help="follow latency p95 limit in s (default 1)")
    parser.add_argument("--json", help="also write the result to this file")
    parser.add_argument("--timeout", type=float, help="hard overall timeout in s (default seconds + 120)")
    args = parser.parse_args(argv)
    if not 1 <= args.students <= MAX_STUDENTS:
        parser.error(f"-n must be between 1 and {MAX_STUDENTS}")
    if args.seconds <= 0 or args.interval <= 0:
        parser.error("--seconds and --interval must be positive")
    # a hard timeout and Ctrl-C / SIGTERM stop what this script started (the service), by PID
    start_watchdog(args.timeout or args.seconds + 120)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stop_on_signal)

    load_before = os.getloadavg()
    secret = secrets.token_urlsafe(24)
    teacher, students = None, []
    with tempfile.TemporaryDirectory(prefix="class-load-") as folder:
        service = ClassService(Path(folder) / "class.sqlite", secret, log_path=Path(folder) / "service.log")
        try:
            proc, url = service.start(timeout=30).proc, service.url
            teacher = ClassLink(url, {"Authorization": f"token {secret}"})
            students = [student_link(url, i) for i in range(args.students)]
            if teacher.role() != "teacher" or students[0].role() != "student":
                raise RuntimeError("the service did not recognise the teacher and the students")
            service_cpu0, own_cpu0, t0 = cpu_seconds(proc.pid), cpu_seconds(), time.perf_counter()
            answers = run_answers(url, teacher, students)
            follow = run_follow(teacher, students, args.seconds, args.interval)
            elapsed = time.perf_counter() - t0
            service_cpu, own_cpu = cpu_seconds(proc.pid) - service_cpu0, cpu_seconds() - own_cpu0
            # the stopped watches' last long polls end with the service: not worth a warning
            logging.getLogger("explorer.class_client").setLevel(logging.ERROR)
        except Exception as e:  # the harness failed, not the service's numbers
            print(f"class_service_load: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
            service.stop()
            return 2
        finally:
            for link in [*students, teacher]:
                if link is not None:
                    link.close()
        service.stop()

    ok = answers["all_recorded"] and follow["missed"] == 0 and follow["p95_s"] is not None \
        and follow["p95_s"] <= args.p95_limit
    result = {
        "date": time.strftime("%Y-%m-%d"), "cpu_count": os.cpu_count(),
        "loadavg_before": [round(x, 2) for x in load_before], "loadavg_after": load_average(),
        "students": args.students, "seconds": args.seconds, "interval": args.interval,
        "answers": answers, "follow": {k: v for k, v in follow.items() if k != "p95_s"},
        "cpu_s": {"service": round(service_cpu, 2), "clients": round(own_cpu, 2), "elapsed_s": round(elapsed, 1)},
        "ok": ok,
    }
    a, f = answers, follow
    print(f"machine: {os.cpu_count()} CPUs, load average {result['loadavg_before']} before, "
          f"{result['loadavg_after']} after")
    print(f"answers: {a['counted']}/{a['students']} counted ({a['recorded_at_once']} recorded at once), "
          f"counts {a['counts']} (expected {a['expected_counts']}); round trip median {a['answer_ms']['median']} ms, "
          f"p95 {a['answer_ms']['p95']} ms, max {a['answer_ms']['max']} ms")
    lat = f["latency_ms"]
    print(f"follow: {f['followers']} followers, {f['published_versions']} versions published "
          f"({f['publish_failures']} not sent at once), latency p50 {lat['p50']} ms, p95 {lat['p95']} ms, "
          f"max {lat['max']} ms, missed {f['missed']}")
    print(f"CPU: service {service_cpu:.2f} s, clients {own_cpu:.2f} s over {elapsed:.1f} s")
    print("OK" if ok else f"FAILED: p95 limit {args.p95_limit} s, every answer recorded, no version missed")
    line = json.dumps(result)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(line + "\n")
    print(line)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
