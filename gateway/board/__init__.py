"""Live board: what operators watch (alerts, routing, open orders, breaches), fed by the bus."""
