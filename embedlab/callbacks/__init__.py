"""Lightning callbacks that embedlab's configs use: the run record (run.json + cost.json of a fit), the
checkpoint on SIGTERM / SIGINT, and per-batch seeding for exact resume."""

from embedlab.callbacks.peak_memory import PeakMemory
from embedlab.callbacks.run_record import RunRecord
from embedlab.callbacks.signal_checkpoint import SignalCheckpoint
from embedlab.callbacks.step_seed import StepSeed

__all__ = ["PeakMemory", "RunRecord", "SignalCheckpoint", "StepSeed"]
