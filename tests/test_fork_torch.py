"""A job forked after the web process ran torch must not hang (dashboard/fork_guard.py).

libgomp's thread pool does not survive ``fork``: after a multi-threaded torch op in the parent,
the child's first parallel op never returns. The Latent plane decodes on hover in the web process,
so torch runs there on one thread, and every job gets the threads back.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = textwrap.dedent("""
    import os, sys
    sys.path.insert(0, {root!r})
    from dashboard.fork_guard import job_threads, torch_in_web_process
    default = __import__("torch").get_num_threads()  # a fresh process's threads, whatever the test runner set
    torch = torch_in_web_process() if {guarded} else __import__("torch")
    g = torch.nn.Sequential(torch.nn.Linear(2, 256), torch.nn.ReLU(), torch.nn.Linear(256, 32 * 7 * 7),
                            torch.nn.Unflatten(1, (32, 7, 7)), torch.nn.ConvTranspose2d(32, 1, 4, 2, 1))
    with torch.no_grad():  # the hover decodes, then a big op as another callback might
        for _ in range(20):
            g(torch.randn(1, 2))
        x = torch.randn(1500, 1500); x @ x; torch.relu(torch.randn(10 ** 7))
    pid = os.fork()
    if pid == 0:  # the job
        job_threads()
        x = torch.randn(1500, 1500); y = x @ x; z = torch.relu(torch.randn(10 ** 7)).sum()
        print("job done on", torch.get_num_threads(), "threads of", default, flush=True)
        os._exit(0)
    os.waitpid(pid, 0)
""")


def _run(guarded: bool, timeout: float):
    code = SCRIPT.format(root=str(ROOT), guarded=guarded)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout)


def test_job_forked_after_a_hover_decode_finishes_with_its_threads():
    out = _run(True, timeout=120)
    assert out.returncode == 0, out.stderr
    words = out.stdout.split()  # job done on N threads of DEFAULT: the job got every thread back
    assert words[:3] == ["job", "done", "on"] and words[3] == words[6], out.stdout
