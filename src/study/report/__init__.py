"""What a reader sees: findings and the executive summary, figures, notebook display, the run and its HTML."""
