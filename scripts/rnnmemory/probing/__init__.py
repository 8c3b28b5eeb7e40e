"""Probes of trained networks (gradients through time, other lengths, predictions, what the
answer depends on), run on saved models without retraining. Imports training and core."""
