"""Training code: the synthetic light stage, datasets, losses and the three training stages.

Imports ``relight_video``; the product never imports this package.
"""
