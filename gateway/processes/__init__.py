"""Long-running gateway processes: each is `async def run(settings)` until cancelled."""
