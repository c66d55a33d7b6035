"""Training: data from real videos, per-stage losses, a resumable loop, and export of a model folder."""
