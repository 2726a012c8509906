"""Training: the loop, optimisers, schedules, callbacks, checkpoints, devices."""
