"""Orders to linkage units: lifecycle state machine, deadlines, durable timers, store."""
