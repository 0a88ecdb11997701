"""Training pipelines, evaluation, MLflow tracking and the promotion gate."""
