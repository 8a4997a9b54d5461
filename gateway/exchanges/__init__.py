"""Exchanges with the other platforms: 12345 tickets both ways, sea-centre hand-overs."""
