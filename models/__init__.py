"""The from-scratch transformer core, its training loop, runs and checkpoints, and decoding."""
