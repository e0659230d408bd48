"""The simulated chair: device firmware, numpy plant and the person sitting in it.

Reached from the controller only through pyserial's URL handlers (`sim://`).

The plant's arrays have six elements: BLAS threads never help them, and starting OpenBLAS's
thread pool doubles numpy's import (about 50 ms of every `chair run`). One thread is asked
for before numpy is imported, unless the user has set `OPENBLAS_NUM_THREADS` (it does
nothing if numpy is already imported).
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
