"""Components of the churn-scoring Pulumi program, one concept per module."""
