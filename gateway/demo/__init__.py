"""`linkgate demo`: the whole stack on this machine with simulated peers and real traffic."""
