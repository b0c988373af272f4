"""Store tests run torch on one thread: on a shared 2-core machine two OpenMP threads spin against
other jobs (a 20x slowdown measured), and the subprocess jobs they compare against use one thread too,
so in-process reference runs give bit-identical activations."""


