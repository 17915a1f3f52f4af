"""Peak memory of a stretch of work: the accelerator's allocator peak, or the process's resident set on CPU.

`ru_maxrss` cannot be reset, so a process that trains several models (a notebook, a grid run in one
process) would report the largest of them for every run; a sampling thread gives the peak of this
stretch alone.
"""

from __future__ import annotations

import threading

import psutil
import torch


class PeakMemory:
    """Context manager measuring peak memory in bytes (`peak_bytes`) and its `kind`.

    Args:
        device: the device the work runs on; CUDA reads the allocator's peak, anything else samples
            the process's resident set size (main process only; DataLoader workers are not counted).
        interval_s: sampling interval on CPU.
    """

    def __init__(self, device: torch.device | str = "cpu", interval_s: float = 0.05) -> None:
        self.device = torch.device(device)
        self.interval_s = interval_s
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def kind(self) -> str:
        return "cuda_max_allocated" if self.device.type == "cuda" else "cpu_peak_rss"

    def __enter__(self) -> PeakMemory:
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        else:
            process = psutil.Process()
            self.peak_bytes = process.memory_info().rss
            self._thread = threading.Thread(target=self._sample, args=(process,), daemon=True)
            self._thread.start()
        return self

    def _sample(self, process: psutil.Process) -> None:
        while not self._stop.wait(self.interval_s):
            self.peak_bytes = max(self.peak_bytes, process.memory_info().rss)

    def __exit__(self, *exc) -> None:
        if self.device.type == "cuda":
            self.peak_bytes = int(torch.cuda.max_memory_allocated(self.device))
        elif self._thread is not None:
            self._stop.set()
            self._thread.join()
            self.peak_bytes = max(self.peak_bytes, psutil.Process().memory_info().rss)
