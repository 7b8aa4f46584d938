"""Machine learning plumbing: the model registry, training jobs, evaluation, shadow rollout."""
