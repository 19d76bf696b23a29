"""Speed and memory goals, measured at province scale (`make bench`); never timed tests."""
