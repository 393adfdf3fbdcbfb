"""The durable engine: compiled definitions, the pure planner, the executor and its driver."""
