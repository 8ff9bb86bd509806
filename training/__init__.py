"""Reproduce the churn model's artifacts from the public bank-churn data set."""
