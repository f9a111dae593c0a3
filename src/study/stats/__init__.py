"""Fast statsmodels-compatible kernels with no study vocabulary: OLS, ordered logit, margins, Cox, sandwich, Holm."""
