"""Running a plan: the sender and its consumer, the worker threads, the local and cluster runners, the journal."""
