"""`newsflow` sets BLAS to one thread per process, before numpy can load."""

from __future__ import annotations

import os
import subprocess
import sys

from newsflow.cli import BLAS_THREAD_VARIABLES


def test_importing_the_cli_does_not_load_numpy() -> None:
    # numpy reads its thread counts when it loads: if the CLI's imports loaded it, the
    # settings main() makes would come too late to matter.
    code = "import sys, newsflow.cli; sys.exit('numpy' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_services_started_by_the_cli_get_single_threaded_blas() -> None:
    env = {k: v for k, v in os.environ.items() if k not in BLAS_THREAD_VARIABLES}
    code = (
        "import os, newsflow.cli\n"
        "try:\n"
        "    newsflow.cli.main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(','.join(os.environ[v] for v in {BLAS_THREAD_VARIABLES!r}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip().splitlines()[-1] == "1,1,1"
