import time
from simkit.pipeline.build import build_index
from simkit.errors import SimkitError
for addr in ["127.0.0.1:1", "127.0.0.1:18777", "nosuch.invalid:6379", "justahost", "auto", ""]:
    t = time.perf_counter()
    try:
        build_index(["/work/wt-ray/examples/reports"], "/tmp/rayexp/idx-bad", ray=addr)
    except SimkitError as e:
        print(f"{type(e).__name__}: {e}  [{time.perf_counter()-t:.2f}s]")
import os; print(os.path.exists("/tmp/rayexp/idx-bad"))
