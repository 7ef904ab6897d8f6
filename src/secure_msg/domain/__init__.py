"""Domain rules: models, services, channel policy, notice templates."""
