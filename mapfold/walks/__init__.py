"""The jitted walks (Lunnon's, the orbit walk, the mirror walk), the pile they share, and the map's symmetry group.

Nothing here knows of threads, tasks, progress or output."""
