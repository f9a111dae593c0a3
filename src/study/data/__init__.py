"""Tickets from a file to a validated table: read, map, validate, derive; the overview; the simulator."""
