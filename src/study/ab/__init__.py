"""Experiments: sufficient statistics, aggregation engines, design checks, comparisons, power, the SLA experiment."""
