"""`mobilize drill`: the district's historical recruitment order, end to end, on simulated phones and time."""
from mobilize.drill.engine import DrillConfig, run_drill

__all__ = ["DrillConfig", "run_drill"]
