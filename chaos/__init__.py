"""`scripts/chaos`: faults injected into a throwaway live stack (as `mobilize drill --live`), one per trial, and
the service's invariants checked afterwards from the database and the simulator's log (docs/reliability.md)."""
