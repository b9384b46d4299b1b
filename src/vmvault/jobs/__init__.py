"""Machinery that runs work over time: the scheduler and the workers."""
