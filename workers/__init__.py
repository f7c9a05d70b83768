"""RQ jobs. Each job takes ids, opens its own database session through the process's Runtime, and stays thin."""
