"""Training and evaluation: state, the jitted steps, sharding, checkpoints and logs."""
