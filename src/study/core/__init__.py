"""The vocabulary every wing shares: estimates and the results file, row accounting, "can this be estimated?"."""
