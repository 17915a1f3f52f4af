"""Lightning callbacks that embedlab's configs use: the run record (run.json + cost.json of a fit)."""

from embedlab.callbacks.peak_memory import PeakMemory
from embedlab.callbacks.run_record import RunRecord

__all__ = ["PeakMemory", "RunRecord"]
