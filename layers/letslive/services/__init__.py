"""Business rules. Services take their collaborators (repositories, probes) as arguments."""
