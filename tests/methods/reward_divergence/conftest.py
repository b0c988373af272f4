"""Reward-divergence tests run torch on one thread (two OpenMP threads spin against other jobs on a
shared 2-core machine)."""


