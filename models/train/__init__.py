"""The three training stages, chained by checkpoints (stage1 → stage2 → stage3)."""
