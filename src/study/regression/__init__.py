"""Observational models of satisfaction and repeat purchase: adjustment, the SLA as instrument, drivers, mediation."""
