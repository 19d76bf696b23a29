"""onemap (一张图): the command line that wires the packages together."""
