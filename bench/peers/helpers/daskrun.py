"""daskrun TASKS SLOTS LIMIT_S: Dask for the peers benchmark.

A LocalCluster of process workers on 127.0.0.1 runs every task of TASKS (a
line is "CORES ARGV...", run as a subprocess, no shell), all submitted at
once, until all are back or LIMIT_S seconds have passed; then it prints one line:
  done N failed N submitted N inner_s S
where inner_s runs from the first submit to the last task returned. When every
task needs one slot there are SLOTS single-threaded workers; otherwise one
worker with SLOTS threads and a "slots" resource that tasks ask for.
"""
import logging
import subprocess
import sys
import threading
from concurrent.futures import CancelledError
import time

from distributed import Client, LocalCluster, as_completed


def run(argv):
    return subprocess.run(argv).returncode


def main():
    path, slots, limit = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    tasks = []
    with open(path) as f:
        for line in f:
            cores, *argv = line.split()
            tasks.append((int(cores), argv))
    multi = any(c > 1 for c, _ in tasks)
    opts = dict(host="127.0.0.1", dashboard_address=None, processes=True,
                silence_logs=logging.ERROR)
    if multi:
        cluster = LocalCluster(n_workers=1, threads_per_worker=slots,
                               resources={"slots": slots}, **opts)
    else:
        cluster = LocalCluster(n_workers=slots, threads_per_worker=1, **opts)
    client = Client(cluster)
    start = time.time()
    if multi:
        futures = [client.submit(run, argv, pure=False, resources={"slots": c})
                   for c, argv in tasks]
    else:
        futures = client.map(run, [argv for _, argv in tasks], pure=False)
    done = failed = 0
    last = start
    timer = threading.Timer(limit, client.cancel, [futures])
    timer.start()
    for fut in as_completed(futures):
        if fut.status == "cancelled":
            continue
        try:
            ok = fut.result() == 0
        except CancelledError:
            continue
        except Exception:  # the task raised: count it as failed
            ok = False
        done, failed = done + ok, failed + (not ok)
        last = time.time()
    timer.cancel()
    print(f"done {done} failed {failed} submitted {len(tasks)} inner_s {last - start:.6f}", flush=True)
    client.close()
    cluster.close()


if __name__ == "__main__":
    main()
